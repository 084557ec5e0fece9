package volume

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
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

// NewBackend chooses the backend by name: "fuse", "files", or "auto" (FUSE
// where /dev/fuse can be opened, else files).
func NewBackend(name string, fuse FuseOptions) (Backend, error) {
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
// the directory if needed. On failure target is left as it was found.
func Show(ctx context.Context, b Backend, target string, v *Volume) (Mounted, error) {
	created, err := ensureDir(target)
	if err != nil {
		return nil, err
	}
	m, err := b.Mount(target, v)
	if err != nil {
		if created {
			os.Remove(target)
		}
		return nil, fmt.Errorf("mounting %s backend at %s: %w", b.Name(), target, err)
	}
	v.OnChange(m.Changed)
	return m, nil
}

// ensureDir creates target (not its parents: kubelet creates those) and says
// whether it did, so a failed mount can put things back.
func ensureDir(target string) (bool, error) {
	if !filepath.IsAbs(target) {
		return false, fmt.Errorf("target path %q is not absolute", target)
	}
	err := os.Mkdir(target, 0o750)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, os.ErrExist) {
		return false, nil
	}
	return false, err
}
