//go:build !linux

package fusectl

import "errors"

var errUnsupported = errors.New("fusectl: FUSE connections are aborted on Linux only")

// Abort is not supported on this platform.
func Abort(dev uint64) error { return errUnsupported }

// MountDev is not supported on this platform.
func MountDev(target string) (uint64, error) { return 0, errUnsupported }
