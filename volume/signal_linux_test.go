package volume_test

import (
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/secretfs/secretfs/cache"
	"github.com/secretfs/secretfs/fusefs"
	"github.com/secretfs/secretfs/vault"
)

// TestColdReadSurvivesSignals opens a file whose object must be fetched
// while the opening thread keeps receiving signals, as any process does
// (Go's own preemption uses SIGURG). The kernel then interrupts the FUSE
// request; the fetch must still finish and the open succeed, not fail
// with EIO.
func TestColdReadSurvivesSignals(t *testing.T) {
	f := newFixture(t, time.Minute)
	// A byte bound of 1 evicts every value at once: each read is cold.
	cold := cache.New(cache.Options{TTL: time.Minute, MaxBytes: 1})
	t.Cleanup(cold.Close)
	tr := f.kv.HTTPClient()
	node := newNodeWithCache(t, cold, tr)
	vol, err := node.Open(t.Context(), f.params(t), vault.PodCredentials{ClientID: clientA, ClientSecret: f.secretA})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vol.Close)
	target := filepath.Join(t.TempDir(), "mnt")
	os.Mkdir(target, 0o755)
	srv, err := fusefs.Mount(target, []fusefs.File{{Path: "db-password", Mode: 0o644}}, vol, fusefs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Unmount() })
	f.kv.SetLatency(300 * time.Millisecond)

	tids := make(chan int, 1)
	result := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tids <- unix.Gettid()
		b, err := os.ReadFile(filepath.Join(target, "db-password"))
		if err == nil && string(b) != "v1-password" {
			err = os.ErrInvalid
		}
		result <- err
	}()
	tid := <-tids
	for {
		select {
		case err := <-result:
			if err != nil {
				t.Fatalf("cold read under signals: %v", err)
			}
			return
		case <-time.After(10 * time.Millisecond):
			unix.Tgkill(os.Getpid(), tid, syscall.SIGURG)
		}
	}
}
