//go:build windows

package files

import "io/fs"

// samePerm compares only the owner-write bit: Windows keeps a read-only
// attribute, not Unix permission bits, and reports 0444 or 0666.
func samePerm(onDisk, want fs.FileMode) bool { return onDisk&0o200 == want&0o200 }
