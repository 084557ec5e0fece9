//go:build !linux

package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/moby/sys/mountinfo"
)

// targetAt is what probeTarget found at a target. Nothing is mounted at a
// target here: the files backend writes into the directory.
type targetAt struct {
	absent bool
	mount  *mountinfo.Info // always nil
	mode   fs.FileMode
}

func probeTarget(target string) (targetAt, error) {
	fi, err := os.Lstat(target)
	if errors.Is(err, fs.ErrNotExist) {
		return targetAt{absent: true}, nil
	}
	if err != nil {
		return targetAt{}, fmt.Errorf("checking the target %s: %w", target, err)
	}
	return targetAt{mode: fi.Mode()}, nil
}

func checkMount(Backend, string, *mountinfo.Info) (bool, error) { return false, nil }

// releaseLeftover removes what b wrote at target in a process before this
// one (the files backend's own entries; the rest of the directory stays).
func releaseLeftover(b Backend, target string, _ targetAt) error {
	if o, ok := b.(owner); ok {
		return o.unmountAt(target)
	}
	return nil
}

// markCreated records nothing here: a restart forgets that secretfs created
// the directory, which then stays, empty, for kubelet to remove.
func markCreated(string) error { return nil }

func wasCreated(string) bool { return false }
