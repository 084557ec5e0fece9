//go:build !linux

package bench

import (
	"context"
	"errors"
	"io"
	"os"
)

// ChildEnv names the environment variable that makes this binary run as a
// child of the harness (Linux only).
const ChildEnv = "SECRETFS_BENCH_CHILD"

// errLinuxOnly: the harness needs FUSE, tmpfs and /proc.
var errLinuxOnly = errors.New("bench: the benchmark harness runs on Linux only (FUSE, tmpfs, /proc)")

// Run fails: the harness runs on Linux only.
func Run(context.Context, Config) (*Results, error) { return nil, errLinuxOnly }

// RunChild reports a child job as handled and failed off Linux.
func RunChild(context.Context, io.Reader, io.Writer) (bool, error) {
	if os.Getenv(ChildEnv) == "" {
		return false, nil
	}
	return true, errLinuxOnly
}
