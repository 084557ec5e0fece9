//go:build linux

package keeper_test

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/secretfs/secretfs/fusefs/keeper"
)

func TestMain(m *testing.M) {
	if code, ok := runRole(); ok {
		os.Exit(code)
	}
	goleak.VerifyTestMain(m)
}

// requireFUSE skips where FUSE cannot be mounted (not root, no /dev/fuse);
// CI runs as root with /dev/fuse and never skips.
func requireFUSE(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("mounting FUSE needs root: run the tests as root (make test and CI do); they fail rather than skip")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Fatal("no /dev/fuse: make test and CI need it (modprobe fuse)")
	}
}

const mounts = 50

// setup starts a keeper, a server for n mounts and two reader processes.
func setup(t *testing.T, n int, keeperArgs ...string) (sock string, targets []string, k, srv *proc, readers []*proc) {
	t.Helper()
	requireFUSE(t)
	targets = makeTargets(t, n)
	sock = filepath.Join(t.TempDir(), "keeper.sock")
	k = startRole(t, "keeper", true, append(keeperArgs, sock)...)
	srv = startRole(t, "server", true, append([]string{sock}, targets...)...)
	for range 2 {
		readers = append(readers, startRole(t, "reader", false, targets...))
	}
	time.Sleep(300 * time.Millisecond) // readers open their held files
	return sock, targets, k, srv, readers
}

// checkReaders stops the readers and fails on any error or hung operation.
func checkReaders(t *testing.T, readers []*proc) time.Duration {
	t.Helper()
	var stall time.Duration
	var ops int64
	for _, r := range readers {
		rep := stopReader(t, r)
		if rep.Errors != 0 || rep.Hung != 0 {
			t.Errorf("reader: %d errors (first: %s), %d hung operations", rep.Errors, rep.First, rep.Hung)
		}
		ops += rep.Ops
		stall = max(stall, rep.MaxStall)
	}
	if ops == 0 {
		t.Error("readers did nothing")
	}
	t.Logf("%d operations, longest stall %v", ops, stall)
	return stall
}

func TestServerKilled(t *testing.T) {
	sock, targets, _, srv, readers := setup(t, mounts)
	for i := range 10 {
		time.Sleep(time.Duration(50+rand.IntN(400)) * time.Millisecond)
		srv.kill()
		start := time.Now()
		srv = startRole(t, "server", true, append([]string{sock}, targets...)...)
		t.Logf("kill %d: new server serving %d mounts after %v", i+1, len(targets), time.Since(start))
	}
	time.Sleep(300 * time.Millisecond)
	checkReaders(t, readers)
}

func TestHandover(t *testing.T) {
	sock, _, k, _, readers := setup(t, mounts)
	for i := range 5 {
		time.Sleep(time.Duration(100+rand.IntN(300)) * time.Millisecond)
		start := time.Now()
		next := startRole(t, "keeper", true, "-takeover", sock)
		took := time.Since(start)
		if err := waitExit(k, 10*time.Second); err != nil {
			t.Fatalf("handover %d: the old keeper: %v", i+1, err)
		}
		t.Logf("handover %d: new keeper serving after %v", i+1, took)
		k = next
	}
	time.Sleep(300 * time.Millisecond)
	checkReaders(t, readers)
}

func TestHungServer(t *testing.T) {
	const bound = time.Second
	sock, targets, _, srv, readers := setup(t, 10, "-hung", bound.String())
	for i := range 2 {
		time.Sleep(200 * time.Millisecond)
		start := time.Now()
		srv.cmd.Process.Signal(syscall.SIGSTOP)
		if err := waitExit(srv, 5*bound); err == nil || !errors.Is(err, errKilled) {
			t.Fatalf("stopped server %d: want it killed by the watchdog within %v, got %v", i+1, 5*bound, err)
		}
		t.Logf("stop %d: watchdog killed the server after %v", i+1, time.Since(start))
		srv = startRole(t, "server", true, append([]string{sock}, targets...)...)
	}
	time.Sleep(300 * time.Millisecond)
	if stall := checkReaders(t, readers); stall > 10*bound {
		t.Errorf("longest stall %v, want it bounded by the watchdog (%v) plus a restart", stall, bound)
	}
}

func TestKeeperKilled(t *testing.T) {
	requireFUSE(t)
	targets := makeTargets(t, 2)
	sock := filepath.Join(t.TempDir(), "keeper.sock")
	k := startRole(t, "keeper", true, sock)
	startRole(t, "server", true, sock, targets[0], targets[1])
	if _, err := os.ReadFile(filepath.Join(targets[0], "a")); err != nil {
		t.Fatal(err)
	}
	k.kill()
	_, serr := os.Stat(targets[0])
	var st syscall.Statfs_t
	err := syscall.Statfs(targets[0], &st)
	t.Logf("stat of the dead mount's root (attributes cached for an hour): %v; statfs: %v", serr, err)
	if !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("statfs of a mount whose keeper died: got %v, want ENOTCONN", err)
	}
	// A new keeper cleans the dead mounts up: on unmount, and before
	// mounting again.
	startRole(t, "keeper", true, sock)
	c := keeper.NewClient(sock)
	if err := c.Unmount(targets[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(targets[0], "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after unmount, %s/a: got %v, want it gone with the mount", targets[0], err)
	}
	startRole(t, "server", true, sock, targets[1])
	got, err := os.ReadFile(filepath.Join(targets[1], "hist/1"))
	if err != nil || string(got) != string(content("hist/1")) {
		t.Errorf("remounted over a dead mount: read %d bytes, %v", len(got), err)
	}
	ms, err := c.List()
	if err != nil || len(ms) != 1 || ms[0].Target != targets[1] || !ms[0].Served {
		t.Errorf("List = %+v, %v; want %s served", ms, err, targets[1])
	}
	if err := c.Unmount(targets[1]); err != nil {
		t.Fatal(err)
	}
}

var errKilled = errors.New("killed")

// waitExit waits for p to exit within d: nil for a clean exit, errKilled
// if SIGKILL ended it.
func waitExit(p *proc, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if p.cmd.ProcessState != nil {
			if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
				return errKilled
			}
		}
		return err
	case <-time.After(d):
		return errors.New("did not exit in time")
	}
}
