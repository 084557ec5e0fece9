//go:build !linux

package volume

import (
	"os"

	mountutils "k8s.io/mount-utils"
)

// IsDeadMount reports whether target is a corrupted mount point.
func IsDeadMount(target string) bool {
	_, err := os.Stat(target)
	return mountutils.IsCorruptedMnt(err)
}
