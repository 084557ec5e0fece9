//go:build !linux

package files

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/moby/sys/mountinfo"
)

// ErrMountPoint is wrapped by MountTmpfs's error when dir already holds
// files of someone else's.
var ErrMountPoint = errors.New("not empty")

// MountTmpfs only creates dir: there is no tmpfs here (Windows), so files
// live on the node's disk, as with kubelet's Secret volumes on Windows,
// directly in dir. A dir that already holds anything but what Write made
// (a republish, a restart of the driver) is refused: Write's links would
// mix with, or replace, files that are not secretfs's.
func MountTmpfs(dir string) error {
	_, err := MountOwnTmpfs(dir)
	return err
}

// MountOwnTmpfs is MountTmpfs that also says whether dir was empty (fresh);
// false: it holds what Write made before.
func MountOwnTmpfs(dir string) (fresh bool, err error) {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return false, fmt.Errorf("creating %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("listing %s: %w", dir, err)
	}
	for _, e := range entries {
		if !written(dir, e.Name()) {
			return false, fmt.Errorf("%w: %s already holds %q; secretfs writes its files only into an empty directory here (no tmpfs): choose another target",
				ErrMountPoint, dir, e.Name())
		}
	}
	return len(entries) == 0, nil
}

// Unmount removes what Write put in dir and keeps dir itself, which on
// Windows the container runtime may still reference, and anything else in
// it.
func Unmount(dir string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing %s: %w", dir, err)
	}
	for _, e := range entries {
		if !written(dir, e.Name()) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("removing %s: %w", e.Name(), err)
		}
	}
	return nil
}

// written reports whether entry n of dir is one Write makes: the ..data link
// or anything stale reports. Nothing else in dir is secretfs's to remove.
func written(dir, n string) bool {
	return n == dataLink || stale(dir, n)
}

// IsOwnTmpfs is false: nothing is mounted here.
func IsOwnTmpfs(*mountinfo.Info) bool { return false }
