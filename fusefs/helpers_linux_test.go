//go:build linux

package fusefs

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// memSource is an in-memory Source. It stands in for the node-wide cache,
// which is the real component behind a mount and is tested in its own
// package; here only the file system is under test.
type memSource struct {
	mu    sync.Mutex
	data  map[string][]byte // guarded by mu
	errs  map[string]error  // guarded by mu; returned instead of data
	reads map[string]int    // guarded by mu; Read calls per path
}

var _ Source = (*memSource)(nil)

func newMemSource(files map[string]string) *memSource {
	s := &memSource{data: map[string][]byte{}, errs: map[string]error{}, reads: map[string]int{}}
	for p, v := range files {
		s.data[p] = []byte(v)
	}
	return s
}

func (s *memSource) Read(ctx context.Context, path string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads[path]++
	if err := s.errs[path]; err != nil {
		return nil, err
	}
	d, ok := s.data[path]
	if !ok {
		return nil, fmt.Errorf("no object for %s: %w", path, os.ErrNotExist)
	}
	return d, nil
}

func (s *memSource) set(path string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[path] = data
}

func (s *memSource) fail(path string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs[path] = err
}

func (s *memSource) readCount(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads[path]
}

// requireFUSE skips where FUSE cannot be mounted. CI runs as root with
// /dev/fuse, so it never skips there.
func requireFUSE(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Fatal("mounting FUSE needs root: run the tests as root (make test and CI do); they fail rather than skip")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		tb.Fatalf("no /dev/fuse (make test and CI need it; modprobe fuse): %v", err)
	}
}

// mountT mounts files from src in a fresh directory, unmounted at cleanup.
func mountT(tb testing.TB, files []File, src Source, opts Options) (*Server, string) {
	tb.Helper()
	requireFUSE(tb)
	dir := tb.TempDir()
	m, err := Mount(dir, files, src, opts)
	if err != nil {
		tb.Fatalf("Mount: %v", err)
	}
	tb.Cleanup(func() {
		if err := m.Unmount(); err != nil {
			tb.Errorf("Unmount: %v", err)
		}
	})
	return m, dir
}

// modes runs a test once per serving mode.
var modes = []struct {
	name string
	opts Options
}{
	{"snapshot", Options{}},
	{"noopen", Options{NoOpen: true}},
}
