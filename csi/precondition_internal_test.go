package csi

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
)

// TestMounterPreconditionIsFailedPrecondition: a Mounter error wrapping
// ErrFailedPrecondition reaches kubelet as FailedPrecondition, not Internal.
func TestMounterPreconditionIsFailedPrecondition(t *testing.T) {
	err := fmt.Errorf("mount at /t: the class changed: %w", ErrFailedPrecondition)
	if got := codeOf(err); got != codes.FailedPrecondition {
		t.Errorf("codeOf = %v, want FailedPrecondition", got)
	}
}
