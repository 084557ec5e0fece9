package volume

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"

	"github.com/moby/sys/mountinfo"
)

// Backend puts a volume's files at a target directory: the FUSE filesystem,
// or tmpfs-style files where FUSE is not available.
type Backend interface {
	// Name is "fuse" or "files", recorded in the mount state.
	Name() string
	// Mount shows v at target, an existing empty directory.
	Mount(target string, v *Volume) (Mounted, error)
}

// Mounted is a volume shown at a target by a Backend.
type Mounted interface {
	// Changed tells the backend that the file at path has new content.
	Changed(path string)
	// Unmount removes the volume from its target; the directory stays.
	Unmount() error
}

// owner is a Backend whose mounts outlive the process that made them (the
// files backend's tmpfs; FUSE mounts the keeper holds): a later process
// finds one at its target and must tell it from anything else mounted
// there, which secretfs never writes into, covers or unmounts.
type owner interface {
	// owns reports whether mnt, the file system mounted at target, is one
	// of this backend's, to be taken up again by Mount.
	owns(target string, mnt *mountinfo.Info) (bool, error)
	// unmountAt unmounts this backend's mount at target, which an
	// earlier process made (only its own; the directory stays).
	unmountAt(target string) error
}

// NewBackend chooses the backend by name: "fuse", "files", or "auto" (FUSE
// where /dev/fuse can be opened, else files).
func NewBackend(name string, fuse FuseOptions) (Backend, error) {
	return newBackend(name, fuse, fuseAvailable)
}

// newBackend is NewBackend with the test for /dev/fuse given.
func newBackend(name string, fuse FuseOptions, fuseAvailable func() bool) (Backend, error) {
	switch name {
	case "fuse":
		return newFuseBackend(fuse)
	case "files":
		return filesBackend{}, nil
	case "auto", "":
		if fuseAvailable() {
			return newFuseBackend(fuse)
		}
		return filesBackend{}, nil
	}
	return nil, fmt.Errorf("backend %q is not one of auto, fuse, files", name)
}

func fuseAvailable() bool {
	if runtime.GOOS != "linux" {
		return false
	}
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// Show opens nothing: it mounts an already opened volume at target, creating
// the directory if needed (see prepareTarget for what it refuses). On
// failure target is left as it was found; the returned Mounted's Unmount
// removes the directory too if Show created it.
func Show(ctx context.Context, b Backend, target string, v *Volume) (Mounted, error) {
	target, err := cleanTarget(target)
	if err != nil {
		return nil, err
	}
	created, err := prepareTarget(b, target)
	if err != nil {
		return nil, fmt.Errorf("mounting %s backend: %w", b.Name(), err)
	}
	m, err := b.Mount(target, v)
	if err != nil {
		if rerr := releaseTarget(target, created); rerr != nil {
			slog.Warn("removing the target after a failed mount", "target", target, "err", rerr)
		}
		return nil, fmt.Errorf("mounting %s backend at %s: %w", b.Name(), target, err)
	}
	v.OnChange(m.Changed)
	return &shown{Mounted: m, target: target, created: created}, nil
}
