package volume

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/secretfs/secretfs/fusefs"
)

type oneFile struct{}

func (oneFile) Read(context.Context, string) ([]byte, error) { return []byte("x"), nil }

// abortConnection kills the FUSE connection behind target, as a crashed
// server would leave it: every operation then answers ENOTCONN.
func abortConnection(t *testing.T, target string) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(target, &st); err != nil {
		t.Fatal(err)
	}
	ctl := "/sys/fs/fuse/connections"
	if !mountedAt(t, ctl) {
		if err := unix.Mount("none", ctl, "fusectl", 0, ""); err != nil {
			t.Fatalf("mounting fusectl: %v", err)
		}
	}
	abort := filepath.Join(ctl, fmt.Sprint(unix.Minor(st.Dev)), "abort")
	if err := os.WriteFile(abort, []byte("1"), 0); err != nil {
		t.Fatalf("aborting the connection: %v", err)
	}
}

func mountedAt(t *testing.T, dir string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(b), " "+dir+" ")
}

func TestUnmountDeadClearsOnlyDeadMounts(t *testing.T) {
	target := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	srv, err := fusefs.Mount(target, []fusefs.File{{Path: "f", Mode: 0o644}}, oneFile{}, fusefs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Unmount() })
	if err := UnmountDead(target); err != nil || !mountedAt(t, target) {
		t.Fatalf("UnmountDead on a live mount: err %v, mounted %v; want it left alone", err, mountedAt(t, target))
	}
	if _, err := os.Stat(target); err != nil {
		t.Fatal(err) // warms the attribute cache: stat keeps succeeding once dead
	}
	abortConnection(t, target)
	if !IsDeadMount(target) {
		t.Fatalf("IsDeadMount = false after the connection was aborted")
	}
	if err := UnmountDead(target); err != nil {
		t.Fatalf("UnmountDead: %v", err)
	}
	if mountedAt(t, target) {
		t.Errorf("%s still mounted", target)
	}
	if _, err := os.Stat(target); err != nil {
		t.Errorf("the directory should stay for a republish: %v", err)
	}
}
