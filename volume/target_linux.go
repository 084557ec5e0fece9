//go:build linux

package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/secretfs/secretfs/csi"
	"github.com/secretfs/secretfs/files"
)

// createdXattr marks a target directory secretfs created. trusted.* is
// writable by root only, so no one else can make secretfs remove their
// directory; it sits on the directory underneath the mount, read once the
// mount is gone.
const createdXattr = "trusted.secretfs.created"

// fuseType is the file system type of secretfs's FUSE mounts, made by
// fusefs or by the keeper.
const fuseType = "fuse.secretfs"

// targetAt is what probeTarget found at a target.
type targetAt struct {
	absent bool
	mount  *mountinfo.Info // the topmost file system mounted there, if any
	mode   fs.FileMode     // when there is no mount
}

// probeTarget looks at target without asking a file system mounted there: a
// dead FUSE mount answers ENOTCONN, a hung one never answers.
func probeTarget(target string) (targetAt, error) {
	mnt, err := files.MountAt(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return targetAt{absent: true}, nil
	case err != nil:
		return targetAt{}, err
	case mnt != nil:
		return targetAt{mount: mnt}, nil
	}
	fi, err := os.Lstat(target)
	if errors.Is(err, fs.ErrNotExist) {
		return targetAt{absent: true}, nil
	}
	if err != nil {
		return targetAt{}, fmt.Errorf("checking the target %s: %w", target, err)
	}
	return targetAt{mode: fi.Mode()}, nil
}

// checkMount decides about the file system mnt mounted at target before b
// mounts there: b's own (a republish after a restart) is taken up again;
// a secretfs FUSE mount whose server died is cleared (cleared: look again);
// anything else is refused and left alone.
func checkMount(b Backend, target string, mnt *mountinfo.Info) (cleared bool, err error) {
	if o, ok := b.(owner); ok {
		own, err := o.owns(target, mnt)
		if err != nil || own {
			return false, err
		}
	}
	if mnt.FSType == fuseType && IsDeadMount(target) {
		if err := unix.Unmount(target, unix.MNT_DETACH); err != nil {
			return false, fmt.Errorf("clearing the dead secretfs mount at %s: %w", target, err)
		}
		return true, nil
	}
	return false, fmt.Errorf("%w: %s already has a %s file system (source %q) mounted that is not this volume's: unmount it, or choose another target",
		csi.ErrTargetUnusable, target, mnt.FSType, mnt.Source)
}

// releaseLeftover unmounts what a process before this one mounted at target
// for b (its tmpfs, the keeper's mount), or a secretfs FUSE mount whose
// server died; anything else mounted there is left alone.
func releaseLeftover(b Backend, target string, at targetAt) error {
	if at.mount == nil {
		return nil
	}
	if o, ok := b.(owner); ok {
		own, err := o.owns(target, at.mount)
		if err != nil {
			return err
		}
		if own {
			return o.unmountAt(target)
		}
	}
	if at.mount.FSType == fuseType && IsDeadMount(target) {
		return UnmountDead(target)
	}
	slog.Warn("leaving a file system secretfs did not mount at the target", "target", target, "type", at.mount.FSType, "source", at.mount.Source)
	return nil
}

// markCreated records on target that secretfs created it.
func markCreated(target string) error {
	return unix.Setxattr(target, createdXattr, []byte("1"), 0)
}

// wasCreated reports whether target carries markCreated's mark.
func wasCreated(target string) bool {
	_, err := unix.Getxattr(target, createdXattr, nil)
	return err == nil
}
