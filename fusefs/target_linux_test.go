//go:build linux

package fusefs

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMountOnRegularFileLeavesNothing: a regular file as the target is
// refused, and no mount is left over it (the old code left a read-write
// mount that answered ENOTCONN) and the file keeps its content.
func TestMountOnRegularFileLeavesNothing(t *testing.T) {
	requireFUSE(t)
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, []byte("keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Mount(file, sampleFiles, newMemSource(sampleData), Options{})
	if err == nil {
		m.Unmount()
		t.Fatal("Mount on a regular file succeeded")
	}
	if isMounted(t, file) {
		t.Errorf("a mount is left over %s after the failed Mount: %v", file, err)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "keep\n" {
		t.Errorf("file = %q, %v; want it untouched", b, err)
	}
}
