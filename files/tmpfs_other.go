//go:build !linux

package files

import (
	"fmt"
	"os"
	"path/filepath"
)

// MountTmpfs only creates dir: there is no tmpfs here (Windows), so files
// live on the node's disk, as with kubelet's Secret volumes on Windows.
func MountTmpfs(dir string) error {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	return nil
}

// Unmount removes what Write put in dir and keeps dir itself, which on
// Windows the container runtime may still reference.
func Unmount(dir string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing %s: %w", dir, err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("removing %s: %w", e.Name(), err)
		}
	}
	return nil
}
