package volume

import (
	"golang.org/x/sys/unix"
	mountutils "k8s.io/mount-utils"
)

// IsDeadMount reports whether target is a mount whose FUSE server (or the
// keeper holding its connection) is gone.
// statfs asks the file system itself; stat may be answered from the
// kernel's attribute cache (an hour long on our mounts) and succeed.
func IsDeadMount(target string) bool {
	var st unix.Statfs_t
	return mountutils.IsCorruptedMnt(unix.Statfs(target, &st))
}
