package volume

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/secretfs/secretfs/files"
)

// filesBackend writes the volume's files into a tmpfs at the target with the
// atomic `..data` swap kubelet's AtomicWriter uses, and rewrites the whole set
// when any file changes.
type filesBackend struct{}

func (filesBackend) Name() string { return "files" }

func (filesBackend) Mount(target string, v *Volume) (Mounted, error) {
	if err := files.MountTmpfs(target); err != nil {
		return nil, err
	}
	m := &filesMount{target: target, v: v}
	if err := m.write(context.Background()); err != nil {
		files.Unmount(target)
		return nil, err
	}
	return m, nil
}

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

func (m *filesMount) Unmount() error { return files.Unmount(m.target) }
