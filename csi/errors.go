package csi

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/secretfs/secretfs/vault"
)

// ErrFailedPrecondition marks a Mounter error caused by the state of the
// volume, not by the request or Key Vault (e.g. a republish whose
// SecretProviderClass changed since the mount): the handler answers
// FailedPrecondition, and kubelet retries until the pod is recreated.
var ErrFailedPrecondition = errors.New("failed precondition")

// codedError tags an error with the gRPC code its handler answers with. The
// steps of a call return these; only the handler turns them into a status.
type codedError struct {
	code codes.Code
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

// withCode tags a formatted error with code; %w in format keeps the cause.
func withCode(code codes.Code, format string, args ...any) error {
	return &codedError{code: code, err: fmt.Errorf(format, args...)}
}

func invalidArg(format string, args ...any) error {
	return withCode(codes.InvalidArgument, format, args...)
}

func precondition(format string, args ...any) error {
	return withCode(codes.FailedPrecondition, format, args...)
}

// codeOf chooses the gRPC code for err. Tagged errors keep their code;
// errors from the Mounter are classified by their vault class:
// a target path that cannot take a volume is FailedPrecondition,
// a missing grant is PermissionDenied, a missing object FailedPrecondition
// (NotFound would claim the volume ID is unknown), a bad object
// InvalidArgument, throttling and outages Unavailable (kubelet retries).
func codeOf(err error) codes.Code {
	var ce *codedError
	switch {
	case err == nil:
		return codes.OK
	case errors.As(err, &ce):
		return ce.code
	case errors.Is(err, ErrFailedPrecondition):
		return codes.FailedPrecondition
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, ErrTargetUnusable):
		return codes.FailedPrecondition
	case errors.Is(err, vault.ErrAccessDenied):
		return codes.PermissionDenied
	case errors.Is(err, vault.ErrNotFound):
		return codes.FailedPrecondition
	case errors.Is(err, vault.ErrInvalid):
		return codes.InvalidArgument
	case errors.Is(err, vault.ErrThrottled), errors.Is(err, vault.ErrUnavailable):
		return codes.Unavailable
	default:
		return codes.Internal
	}
}

// maxStatusLen bounds a status message: room for the class, the target
// and a vault error (itself at most vault.MaxErrorLen).
const maxStatusLen = 1024

// toStatus is the one place a handler's error becomes a gRPC status. kubelet
// copies the message into the pod's events, so it is made one line of
// printable text, bounded, whatever the cause holds (errors.Join's line
// breaks, a dependency's error quoting a response body).
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	return status.Error(codeOf(err), vault.ErrorText(err.Error(), maxStatusLen))
}
