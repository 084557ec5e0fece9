package volume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/moby/sys/mountinfo"

	"github.com/secretfs/secretfs/csi"
	"github.com/secretfs/secretfs/files"
)

// filesBackend writes the volume's files into a tmpfs of its own mounted
// over the target, with the atomic `..data` swap kubelet's AtomicWriter
// uses, and rewrites the whole set when any file changes. The target
// directory's own content stays underneath, untouched.
type filesBackend struct{}

var _ owner = filesBackend{}

func (filesBackend) Name() string { return "files" }

// Mount mounts a fresh tmpfs at target, or takes up the one an earlier
// process mounted there (prepareTarget refused anything else), and writes
// the volume into it. On failure it unmounts only a tmpfs it mounted now:
// a taken-up one keeps serving what it served.
func (filesBackend) Mount(target string, v *Volume) (Mounted, error) {
	fresh, err := files.MountOwnTmpfs(target)
	if errors.Is(err, files.ErrMountPoint) {
		return nil, fmt.Errorf("%w: %w", csi.ErrTargetUnusable, err)
	}
	if err != nil {
		return nil, err
	}
	m := &filesMount{target: target, v: v}
	if err := m.write(context.Background()); err != nil {
		if fresh {
			if uerr := files.Unmount(target); uerr != nil {
				slog.Warn("unmounting the tmpfs of a failed mount", "target", target, "err", uerr)
			}
		}
		return nil, err
	}
	return m, nil
}

// owns: a tmpfs files.MountTmpfs mounted (by its source).
func (filesBackend) owns(_ string, mnt *mountinfo.Info) (bool, error) {
	return files.IsOwnTmpfs(mnt), nil
}

func (filesBackend) unmountAt(target string) error { return files.Unmount(target) }

type filesMount struct {
	target string
	v      *Volume
	mu     sync.Mutex // serializes rewrites
}

func (m *filesMount) write(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var set []files.File
	for _, f := range m.v.Layout() {
		b, err := m.v.Read(ctx, f.Path)
		if f.History >= 0 && errors.Is(err, os.ErrNotExist) {
			continue // that version does not exist (yet)
		}
		if err != nil {
			return err
		}
		set = append(set, files.File{Path: f.Path, Mode: f.Object.FileMode, Bytes: b})
	}
	return files.Write(m.target, set)
}

// Changed rewrites the whole set: the atomic swap publishes one consistent
// generation of every file.
func (m *filesMount) Changed(string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.write(ctx); err != nil {
		slog.Error("rewriting volume files", "target", m.target, "err", err)
	}
}

// Unmount unmounts the tmpfs; the directory and what it held stay.
func (m *filesMount) Unmount() error { return files.Unmount(m.target) }
