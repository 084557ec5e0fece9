//go:build windows

package files

import (
	"errors"
	"io/fs"
	"os"
)

// swapLink replaces link with a symlink to target. A directory symlink cannot
// be renamed over another on Windows, so, like kubelet there, it is removed
// and created again; tmp is only cleaned up. Readers may see link missing for
// that instant.
func swapLink(tmp, link, target string) error {
	if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Symlink(target, link); err != nil {
		return err
	}
	return os.Remove(tmp)
}
