//go:build linux

package keeper_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/secretfs/secretfs/fusefs/keeper"
)

// TestMemo: the memo given at mount is listed, replaced by Remember and by
// the next mount of the same target, and travels with a handover; the
// control socket is its owner's only. Nothing serves the mounts (List and
// Remember never touch them), and nothing here stats them: that would wait
// for a server.
func TestMemo(t *testing.T) {
	requireFUSE(t)
	targets := makeTargets(t, 2)
	sock := filepath.Join(t.TempDir(), "keeper.sock")
	k := startRole(t, "keeper", true, sock)
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket %s: %v, %v; want mode 0600", sock, fi, err)
	}
	c := keeper.NewClient(sock)
	mount := func(target string, memo []byte) error {
		f, _, err := c.Mount(target, "secretfs", memo)
		if err == nil {
			t.Cleanup(func() { f.Close() })
		}
		return err
	}
	b0, b1 := filepath.Base(targets[0]), filepath.Base(targets[1])
	steps := []struct {
		name string
		do   func() error
		want map[string]string
	}{
		{"mounted", func() error {
			if err := mount(targets[0], []byte("first")); err != nil {
				return err
			}
			return mount(targets[1], nil)
		}, map[string]string{b0: "first", b1: ""}},
		{"remembered", func() error { return c.Remember(targets[1], []byte("fresh token")) },
			map[string]string{b0: "first", b1: "fresh token"}},
		{"mounted again", func() error { return mount(targets[0], []byte("second")) },
			map[string]string{b0: "second", b1: "fresh token"}},
		{"mounted again without a memo", func() error { return mount(targets[0], nil) },
			map[string]string{b0: "second", b1: "fresh token"}},
		{"handed over", func() error {
			next := startRole(t, "keeper", true, "-takeover", sock)
			err := waitExit(k, 10*time.Second)
			k = next
			return err
		}, map[string]string{b0: "second", b1: "fresh token"}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		ms, err := c.List()
		if err != nil {
			t.Fatalf("%s: List: %v", s.name, err)
		}
		got := map[string]string{}
		for _, m := range ms {
			got[filepath.Base(m.Target)] = string(m.Memo)
		}
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("%s: memos (-want +got):\n%s", s.name, diff)
		}
	}
	if err := c.Remember(filepath.Join(t.TempDir(), "not-mounted"), []byte("x")); err == nil {
		t.Error("Remember of a target not held: want an error")
	}
}
