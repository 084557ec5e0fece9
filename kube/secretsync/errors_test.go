package secretsync

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestErrorClasses(t *testing.T) {
	secrets := schema.GroupResource{Resource: "secrets"}
	conflict := apierrors.NewConflict(secrets, "db", errors.New("modified"))
	bad := withReason(ReasonFailedToCreateSecret, fmt.Errorf("Secret ns/db: %w", permanent(errors.New("no such file"))))
	down := errors.New("connection refused")
	type class struct {
		Permanent, Routine bool
		Type               string
	}
	for _, tc := range []struct {
		name string
		err  error
		want class
	}{
		{"conflict", fmt.Errorf("updating: %w", conflict), class{false, true, "api"}},
		{"invalid entry", bad, class{true, false, "invalid"}},
		{"unmanaged", permanent(fmt.Errorf("Secret ns/db %w", errUnmanaged)), class{true, false, "unmanaged"}},
		{"invalid and unreachable: retried", errors.Join(bad, down), class{false, false, "invalid"}},
		{"two conflicts: no event", errors.Join(conflict, conflict), class{false, true, "api"}},
		{"conflict and unreachable: event", errors.Join(conflict, down), class{false, false, "api"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := class{every(tc.err, isPermanent), every(tc.err, isRoutine), errorType(tc.err)}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
