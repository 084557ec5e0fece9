//go:build linux

package files

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// TmpfsSize bounds each volume's tmpfs. Key Vault objects are at most 25 KiB
// and a volume holds tens of them (times objectVersionHistory), so 32 MiB is
// far above any real volume and still stops a runaway writer from filling
// node memory. tmpfs only uses memory for what is written.
const TmpfsSize = 32 << 20

// TmpfsSource is the source of every tmpfs MountTmpfs mounts, as
// /proc/self/mountinfo shows it ("tmpfs" for anyone else's). It is how a
// later process (after a restart of the driver) tells a volume's own tmpfs,
// which it may write into and unmount, from a file system someone else
// mounted at the target, which it must not touch.
const TmpfsSource = "secretfs"

// tmpfsOptions: root-owned 0755 like kubelet's Secret volumes; files carry
// their own modes.
var tmpfsOptions = fmt.Sprintf("mode=0755,size=%d", TmpfsSize)

// ErrMountPoint is wrapped by MountTmpfs's error when something other than
// a secretfs tmpfs is mounted at the directory.
var ErrMountPoint = errors.New("already a mount point")

// MountTmpfs mounts a fresh tmpfs at dir (creating dir if missing), so files
// never reach the node's disk and never land among what dir itself holds:
// that stays underneath, untouched, and is back when the tmpfs is
// unmounted. A secretfs tmpfs already mounted there (a republish, or a
// restart of the driver) is used again; anything else mounted there is
// refused, a tmpfs included: it is not ours to write into.
func MountTmpfs(dir string) error {
	_, err := MountOwnTmpfs(dir)
	return err
}

// MountOwnTmpfs is MountTmpfs that also says whether it mounted a fresh
// tmpfs (false: it found its own there), so that a caller that fails next
// unmounts only what it mounted.
func MountOwnTmpfs(dir string) (fresh bool, err error) {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return false, fmt.Errorf("creating %s: %w", dir, err)
	}
	top, err := MountAt(dir)
	if err != nil {
		return false, err
	}
	if top != nil {
		if IsOwnTmpfs(top) {
			return false, nil
		}
		return false, fmt.Errorf("%w: %s has a %s file system (source %q) mounted; secretfs mounts its own tmpfs and writes into nothing else: unmount it or choose another target",
			ErrMountPoint, dir, top.FSType, top.Source)
	}
	const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if err := unix.Mount(TmpfsSource, dir, "tmpfs", flags, tmpfsOptions); err != nil {
		return false, fmt.Errorf("mounting tmpfs at %s: %w", dir, err)
	}
	return true, nil
}

// IsOwnTmpfs reports whether mi is a tmpfs MountTmpfs mounted.
func IsOwnTmpfs(mi *mountinfo.Info) bool {
	return mi.FSType == "tmpfs" && mi.Source == TmpfsSource
}

// Unmount unmounts the tmpfs MountTmpfs mounted at dir. dir itself, what it
// held before, and anything else mounted there are left alone: a missing
// dir, or one with nothing of ours mounted, is not an error, so unpublish
// can be retried.
func Unmount(dir string) error {
	top, err := MountAt(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case top == nil:
		return nil
	case !IsOwnTmpfs(top):
		return fmt.Errorf("%w: a %s file system (source %q) is mounted over the volume at %s; secretfs unmounts only its own tmpfs: unmount that first",
			ErrMountPoint, top.FSType, top.Source, dir)
	}
	if err := unix.Unmount(dir, 0); err != nil {
		return fmt.Errorf("unmounting %s: %w", dir, err)
	}
	return nil
}

// MountAt returns the topmost mount whose mount point is dir, or nil if dir
// is not a mount point. It never asks a file system mounted at dir (a dead
// FUSE mount would answer ENOTCONN, a hung one never).
func MountAt(dir string) (*mountinfo.Info, error) {
	parent, err := filepath.EvalSymlinks(filepath.Dir(dir))
	if err != nil {
		return nil, fmt.Errorf("checking mounts at %s: %w", dir, err)
	}
	dir = filepath.Join(parent, filepath.Base(dir))
	mounts, err := mountinfo.GetMounts(func(mi *mountinfo.Info) (skip, stop bool) { return mi.Mountpoint != dir, false })
	if err != nil {
		return nil, fmt.Errorf("checking mounts at %s: %w", dir, err)
	}
	if len(mounts) == 0 {
		if _, err := os.Lstat(dir); err != nil {
			return nil, fmt.Errorf("checking mounts at %s: %w", dir, err)
		}
		return nil, nil
	}
	return top(mounts), nil
}

// top returns the mount of stack (all at one mount point) that no other
// one covers: the one a path lookup reaches.
func top(stack []*mountinfo.Info) *mountinfo.Info {
	covered := make(map[int]bool, len(stack))
	for _, mi := range stack {
		covered[mi.Parent] = true
	}
	for _, mi := range stack {
		if !covered[mi.ID] {
			return mi
		}
	}
	return stack[len(stack)-1]
}
