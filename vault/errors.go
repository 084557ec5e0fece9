package vault

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The error classes callers branch on with errors.Is. The CSI layer maps them to
// gRPC codes: ErrInvalid → InvalidArgument, ErrAccessDenied and ErrNotFound →
// FailedPrecondition (the user must fix a grant or a name), ErrThrottled and
// ErrUnavailable → Unavailable (kubelet retries).
var (
	// ErrInvalid marks a SecretProviderClass or pod credential that can never work as given.
	ErrInvalid = errors.New("invalid")
	// ErrAccessDenied marks a rejected credential (Entra ID) or a missing grant (Key Vault 401/403).
	ErrAccessDenied = errors.New("access denied")
	// ErrNotFound marks an object or version Key Vault does not have (404).
	ErrNotFound = errors.New("not found")
	// ErrThrottled marks a 429 from Key Vault or Entra ID; see RetryAfter.
	ErrThrottled = errors.New("throttled")
	// ErrUnavailable marks a fault that may pass: 5xx, network, timeout, cancellation.
	ErrUnavailable = errors.New("unavailable")
)

// opError is a classified failure of one operation. Its message is built only
// from names and codes, so it can be logged and put into Kubernetes events.
type opError struct {
	op         string        // what was attempted, e.g. `key vault "kv1": get secret "db" (latest)`
	kind       error         // one of the Err* classes
	detail     string        // status and service error code, never a value
	retryAfter time.Duration // from a 429, zero if none
	err        error         // the cause, for errors.As by callers that want it
}

// Error is one line of printable text of at most MaxErrorLen bytes: the
// detail may come from a response body (an Entra ID error description, a
// Key Vault message), and the message goes to pod events and logs.
func (e *opError) Error() string {
	msg := e.op + ": " + e.kind.Error()
	if e.detail != "" {
		msg += " (" + e.detail + ")"
	}
	return ErrorText(msg, MaxErrorLen)
}

// Is reports whether target is this error's class.
func (e *opError) Is(target error) bool { return target == e.kind }

// Unwrap returns the cause, so errors.Is(err, context.Canceled) keeps working.
func (e *opError) Unwrap() error { return e.err }

// invalidf returns an ErrInvalid error with a formatted message.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// RetryAfter returns the delay a 429 asked for (Retry-After, retry-after-ms or
// x-ms-retry-after-ms), so the cache can back off for exactly that long.
func RetryAfter(err error) (time.Duration, bool) {
	var oe *opError
	if errors.As(err, &oe) && oe.retryAfter > 0 {
		return oe.retryAfter, true
	}
	return 0, false
}

// MaxErrorLen bounds the message of an error this package classifies.
const MaxErrorLen = 512

// ErrorText makes s fit for a log line, a gRPC status or a Kubernetes
// event: line breaks become "; ", other control and invisible formatting
// characters (ESC, bidi overrides) a space, runs of them one, and the
// result is cut to at most limit bytes on a character boundary, ending in
// "…" when cut.
func ErrorText(s string, limit int) string {
	var b strings.Builder
	pending := "" // separator owed before the next printable rune
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r':
			pending = "; "
		case r == ' ' || !unicode.IsPrint(r):
			if pending == "" {
				pending = " "
			}
		default:
			if b.Len() > 0 {
				b.WriteString(pending)
			}
			pending = ""
			b.WriteRune(r)
		}
		if b.Len() > limit {
			return cut(b.String(), limit)
		}
	}
	return b.String()
}

// cut shortens s to at most limit bytes ending in "…", on a rune boundary.
func cut(s string, limit int) string {
	const ellipsis = "…"
	n := max(limit-len(ellipsis), 0)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + ellipsis
}
