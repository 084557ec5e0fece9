//go:build !linux

package volume

import (
	"os"

	mountutils "k8s.io/mount-utils"
)

// isDeadMount reports whether target is a corrupted mount point.
func isDeadMount(target string) bool {
	_, err := os.Stat(target)
	return mountutils.IsCorruptedMnt(err)
}
