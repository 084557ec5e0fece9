//go:build !windows

package files

import "io/fs"

// samePerm compares permission bits as the file system stores them.
func samePerm(onDisk, want fs.FileMode) bool { return onDisk.Perm() == want.Perm() }
