package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"

	"github.com/secretfs/secretfs/csi"
)

// What secretfs may do at a target path: it mounts over it, and removes only
// what it created. A directory that was there before is never written into
// (each backend mounts its own file system over it), never removed, and is
// back exactly as found once the volume is unmounted or its mount failed. A
// target that is not a directory, or that already has a file system mounted
// that is not one of ours being published again, is refused with
// csi.ErrTargetUnusable.
//
// Whether secretfs created the directory must outlive the process (a files
// volume, or a kept FUSE mount, outlives a restart of the driver), so it is
// recorded on the directory itself (markCreated) as well as in memory.

// targetMode is the mode of a target directory secretfs creates.
const targetMode = 0o750

// cleanTarget returns target in its clean form, so "/x/t/" and "/x/t" are
// one target; it must be absolute.
func cleanTarget(target string) (string, error) {
	if !filepath.IsAbs(target) {
		return "", fmt.Errorf("%w: %q is not absolute", csi.ErrTargetUnusable, target)
	}
	return filepath.Clean(target), nil
}

// prepareTarget makes target ready for b to mount at and says whether it
// created the directory. A missing target is created (not its parents:
// kubelet creates those); an existing one must be a directory, and not a
// mount point unless b takes that mount up again (its own, after a
// restart); a dead secretfs FUSE mount is cleared first.
func prepareTarget(b Backend, target string) (created bool, err error) {
	at, err := probeTarget(target)
	if err != nil {
		return false, err
	}
	switch {
	case at.absent:
		return createTarget(target)
	case at.mount != nil:
		cleared, err := checkMount(b, target, at.mount)
		if cleared {
			return prepareTarget(b, target) // what was under the dead mount
		}
		return false, err
	case !at.mode.IsDir():
		return false, fmt.Errorf("%w: %s is a %s, not a directory: give a directory (or a path that does not exist yet)",
			csi.ErrTargetUnusable, target, kind(at.mode))
	}
	return false, nil
}

// createTarget creates target and marks it as secretfs's.
func createTarget(target string) (bool, error) {
	if err := os.Mkdir(target, targetMode); err != nil {
		return false, fmt.Errorf("creating the target %s: %w", target, err)
	}
	if err := markCreated(target); err != nil {
		// Only a restart forgets it then: the directory stays behind,
		// empty, for kubelet to remove.
		slog.Warn("recording that secretfs created the target; after a restart it will not remove it", "target", target, "err", err)
	}
	return true, nil
}

// kind names a file mode for a message.
func kind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return "file of mode " + m.String()
}

// releaseTarget removes target once nothing of ours is mounted there, if
// secretfs created it (created, or marked so by an earlier process), and
// only if it is empty: what someone else put there is not ours to delete.
// A missing target is already released.
func releaseTarget(target string, created bool) error {
	at, err := probeTarget(target)
	switch {
	case err != nil:
		return err
	case at.absent || at.mount != nil || !at.mode.IsDir():
		return nil // gone, covered by someone else's mount, or never ours
	case !created && !wasCreated(target):
		return nil
	}
	err = os.Remove(target)
	if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
		slog.Warn("leaving the target secretfs created: something else put files in it", "target", target)
		return nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the target %s: %w", target, err)
	}
	return nil
}

// shown is a volume mounted by Show; its Unmount also removes the target if
// Show created it.
type shown struct {
	Mounted
	target  string
	created bool
}

func (s *shown) Unmount() error {
	if err := s.Mounted.Unmount(); err != nil {
		return err
	}
	return releaseTarget(s.target, s.created)
}
