package secretsync

import (
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// permanentError marks a failure retrying cannot fix (a name collision with
// an unmanaged Secret, a secretObjects entry naming no file): the writer
// reports it and waits for the next mount or rotation.
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

func permanent(err error) error { return permanentError{err} }

// eventError carries the reason of the warning event a failure raises on
// the pod.
type eventError struct {
	reason string
	error
}

func (e eventError) Unwrap() error { return e.error }

func withReason(reason string, err error) error {
	if err == nil {
		return nil
	}
	return eventError{reason: reason, error: err}
}

// errUnmanaged is wrapped when a Secret of the wanted name exists without
// the managed label.
var errUnmanaged = errors.New("exists and was not created by secret sync")

func isPermanent(err error) bool { return errors.As(err, new(permanentError)) }

// isRoutine reports whether err is the optimistic-concurrency noise of
// several writers (a conflict, a create race), which a retry resolves and
// which is no news to the pod's owner.
func isRoutine(err error) bool { return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) }

// every reports whether pred holds for each error errors.Join put in err
// (or for err itself), so one retryable failure among permanent ones is
// still retried.
func every(err error, pred func(error) bool) bool {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			if !every(e, pred) {
				return false
			}
		}
		return true
	}
	return pred(err)
}
