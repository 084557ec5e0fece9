package secretsync

import "errors"

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
