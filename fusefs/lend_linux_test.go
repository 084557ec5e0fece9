//go:build linux

package fusefs

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// lendSource is a Lender over a memSource: each Lend hands out a fresh
// slice, which its release zeroes, as the node cache zeroes a value nobody
// holds any more.
type lendSource struct {
	*memSource
	mu   sync.Mutex
	lent map[*byte]bool // guarded by mu: first bytes of slices not yet released
}

var _ Lender = (*lendSource)(nil)

func newLendSource(files map[string]string) *lendSource {
	return &lendSource{memSource: newMemSource(files), lent: map[*byte]bool{}}
}

func (s *lendSource) Lend(ctx context.Context, path string) ([]byte, func(), error) {
	d, err := s.Read(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	b := append(make([]byte, 0, len(d)+1), d...)[: len(d) : len(d)+1]
	key := &b[:1][0]
	s.mu.Lock()
	s.lent[key] = true
	s.mu.Unlock()
	var once sync.Once
	return b, func() {
		once.Do(func() {
			s.mu.Lock()
			if !s.lent[key] {
				panic("released twice")
			}
			delete(s.lent, key)
			s.mu.Unlock()
			clear(b)
		})
	}, nil
}

func (s *lendSource) outstanding() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lent)
}

// TestLentBytesLifetime: a mount serves a Lender's bytes without copying
// and gives each version back exactly when nothing can read it any more:
// after a change once its last open is closed (an open handle keeps
// reading its version intact meanwhile), and at unmount.
func TestLentBytesLifetime(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			requireFUSE(t)
			src := newLendSource(map[string]string{"db-password": "old-password"})
			dir := t.TempDir()
			m, err := Mount(dir, []File{{Path: "db-password", Mode: 0o644}}, src, mode.opts)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, "db-password")
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			src.set("db-password", []byte("new-password"))
			m.Changed("db-password")
			if got := readFile(t, p); got != "new-password" {
				t.Errorf("after the change: %q", got)
			}
			if !mode.opts.NoOpen {
				if got, _ := io.ReadAll(f); string(got) != "old-password" {
					t.Errorf("open handle on the old version reads %q, want it intact", got)
				}
				if n := src.outstanding(); n != 2 {
					t.Errorf("lent versions with the old one open = %d, want 2", n)
				}
			}
			f.Close()
			eventuallyT(t, "the old version is given back", func() bool { return src.outstanding() == 1 })
			if err := m.Unmount(); err != nil {
				t.Fatal(err)
			}
			if n := src.outstanding(); n != 0 {
				t.Errorf("lent versions after unmount = %d, want 0", n)
			}
		})
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// eventuallyT polls cond until it holds, failing after a generous bound.
func eventuallyT(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
