//go:build linux

package files

import (
	"fmt"
	"os"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// TmpfsSize bounds each volume's tmpfs. Key Vault objects are at most 25 KiB
// and a volume holds tens of them (times objectVersionHistory), so 32 MiB is
// far above any real volume and still stops a runaway writer from filling
// node memory. tmpfs only uses memory for what is written.
const TmpfsSize = 32 << 20

// tmpfsOptions: root-owned 0755 like kubelet's Secret volumes; files carry
// their own modes.
var tmpfsOptions = fmt.Sprintf("mode=0755,size=%d", TmpfsSize)

// MountTmpfs creates dir and mounts a fresh tmpfs on it, unless a tmpfs is
// already mounted there (a republish, or a restart of the driver), so files
// never reach the node's disk.
func MountTmpfs(dir string) error {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	mounted, err := mountinfo.Mounted(dir)
	if err != nil {
		return fmt.Errorf("checking mounts at %s: %w", dir, err)
	}
	if mounted {
		return checkTmpfs(dir)
	}
	const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if err := unix.Mount("tmpfs", dir, "tmpfs", flags, tmpfsOptions); err != nil {
		return fmt.Errorf("mounting tmpfs at %s: %w", dir, err)
	}
	return nil
}

// checkTmpfs refuses to write secrets into whatever else is mounted at dir.
func checkTmpfs(dir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("checking the file system at %s: %w", dir, err)
	}
	if st.Type != unix.TMPFS_MAGIC {
		return fmt.Errorf("%s is a mount point of file system type %#x, not tmpfs: unmount it first", dir, st.Type)
	}
	return nil
}

// Unmount unmounts the tmpfs at dir if one is mounted and removes dir. A
// missing dir is not an error, so unpublish can be retried.
func Unmount(dir string) error {
	mounted, err := mountinfo.Mounted(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking mounts at %s: %w", dir, err)
	}
	if mounted {
		if err := unix.Unmount(dir, 0); err != nil {
			return fmt.Errorf("unmounting %s: %w", dir, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	return nil
}
