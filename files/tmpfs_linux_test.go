//go:build linux

package files

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root; CI and the dev machines run as root")
	}
}

// mountsAt counts the mount table entries whose mount point is dir.
func mountsAt(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			n++
		}
	}
	return n
}

func fsType(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return st.Type
}

func TestMountTmpfsWriteUnmount(t *testing.T) {
	requireRoot(t)
	dir := filepath.Join(t.TempDir(), "target")
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })

	if err := MountTmpfs(dir); err != nil {
		t.Fatalf("MountTmpfs: %v", err)
	}
	if err := MountTmpfs(dir); err != nil {
		t.Fatalf("MountTmpfs again: %v", err)
	}
	if got := mountsAt(t, dir); got != 1 {
		t.Errorf("%d mounts at %s, want 1 (a second MountTmpfs must not stack)", got, dir)
	}
	if got := fsType(t, dir); got != unix.TMPFS_MAGIC {
		t.Errorf("file system type %#x, want tmpfs", got)
	}
	mustWrite(t, dir, sample)
	if diff := cmp.Diff(want(sample), snapshot(t, dir)); diff != "" {
		t.Errorf("files on tmpfs (-want +got):\n%s", diff)
	}

	if err := Unmount(dir); err != nil {
		t.Fatalf("Unmount: %v", err)
	}
	if got := mountsAt(t, dir); got != 0 {
		t.Errorf("%d mounts left at %s", got, dir)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("target still exists after Unmount: %v", err)
	}
	if err := Unmount(dir); err != nil {
		t.Errorf("Unmount of a removed target = %v, want nil (unpublish retries)", err)
	}
}

func TestMountTmpfsRefusesOtherFileSystem(t *testing.T) {
	requireRoot(t)
	dir := filepath.Join(t.TempDir(), "target")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("ramfs", dir, "ramfs", 0, ""); err != nil {
		t.Fatalf("mounting ramfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	if err := MountTmpfs(dir); err == nil || !strings.Contains(err.Error(), "not tmpfs") {
		t.Errorf("MountTmpfs over ramfs = %v, want a not-tmpfs error", err)
	}
}

func TestUnmountPlainDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "target")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, dir, sample)
	if err := Unmount(dir); err != nil {
		t.Fatalf("Unmount: %v", err)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("target still exists after Unmount: %v", err)
	}
}
