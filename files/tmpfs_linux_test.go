//go:build linux

package files

import (
	"errors"
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
		t.Fatal("mounting tmpfs needs root: run the tests as root (make test and CI do); they fail rather than skip")
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
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("after Unmount %s holds %v (err %v), want it empty: every file was on the tmpfs", dir, entries, err)
	}
	if err := Unmount(dir); err != nil {
		t.Errorf("Unmount again = %v, want nil (unpublish retries)", err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := Unmount(dir); err != nil {
		t.Errorf("Unmount of a removed target = %v, want nil (unpublish retries)", err)
	}
}

// TestMountTmpfsLeavesDirectoryContentAlone: what a directory held before
// the volume is never written to, hidden while mounted, and back as it was
// after Unmount (the old Unmount removed the directory and everything in it).
func TestMountTmpfsLeavesDirectoryContentAlone(t *testing.T) {
	requireRoot(t)
	dir := filepath.Join(t.TempDir(), "target")
	precious := preciousDir(t, dir)
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })

	if err := MountTmpfs(dir); err != nil {
		t.Fatalf("MountTmpfs: %v", err)
	}
	mustWrite(t, dir, sample)
	if _, err := os.Lstat(filepath.Join(dir, "p.txt")); !os.IsNotExist(err) {
		t.Errorf("p.txt visible on the volume (err %v): files were written into the directory itself", err)
	}
	if err := Unmount(dir); err != nil {
		t.Fatalf("Unmount: %v", err)
	}
	precious.check(t)
}

// TestMountTmpfsRefusesForeignTmpfs: a tmpfs mounted by someone else is not
// written into, unmounted or covered (the old code wrote the volume into it
// and removed it on Unmount).
func TestMountTmpfsRefusesForeignTmpfs(t *testing.T) {
	requireRoot(t)
	dir := filepath.Join(t.TempDir(), "target")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, ""); err != nil {
		t.Fatalf("mounting tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	precious := preciousDir(t, dir)

	if err := MountTmpfs(dir); !errors.Is(err, ErrMountPoint) {
		t.Errorf("MountTmpfs over someone's tmpfs = %v, want ErrMountPoint", err)
	}
	if err := Unmount(dir); !errors.Is(err, ErrMountPoint) {
		t.Errorf("Unmount of someone's tmpfs = %v, want ErrMountPoint", err)
	}
	if got := mountsAt(t, dir); got != 1 {
		t.Errorf("%d mounts at %s, want the one there before", got, dir)
	}
	precious.check(t)
}

// precious is a directory with a file in it, to check that it is left
// exactly as found.
type precious struct{ dir string }

func preciousDir(t *testing.T, dir string) precious {
	t.Helper()
	if err := os.MkdirAll(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p.txt"), []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return precious{dir}
}

func (p precious) check(t *testing.T) {
	t.Helper()
	entries, err := os.ReadDir(p.dir)
	if err != nil {
		t.Fatalf("the directory %s is gone: %v", p.dir, err)
	}
	if len(entries) != 1 || entries[0].Name() != "p.txt" {
		t.Errorf("%s holds %v, want only p.txt", p.dir, entries)
	}
	if b, err := os.ReadFile(filepath.Join(p.dir, "p.txt")); err != nil || string(b) != "precious\n" {
		t.Errorf("p.txt = %q, %v; want it untouched", b, err)
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
	if err := MountTmpfs(dir); !errors.Is(err, ErrMountPoint) || !strings.Contains(err.Error(), "ramfs") {
		t.Errorf("MountTmpfs over ramfs = %v, want ErrMountPoint naming ramfs", err)
	}
}

// TestUnmountPlainDirectory: with no tmpfs of ours mounted, Unmount
// touches nothing (the old code removed the directory and its files).
func TestUnmountPlainDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "target")
	precious := preciousDir(t, dir)
	if err := Unmount(dir); err != nil {
		t.Fatalf("Unmount: %v", err)
	}
	precious.check(t)
}
