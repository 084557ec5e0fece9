//go:build linux

package keeper_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/secretfs/secretfs/fusefs/keeper"
)

// holdCopy starts a process in a new mount namespace: it holds a copy of
// every mount there is, as container runtimes and other pods' namespaces
// do, so an umount here no longer ends a FUSE connection. It returns the
// process, killed at cleanup.
func holdCopy(t *testing.T) *os.Process {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatalf("holding a mount copy needs sleep(1): %v", err)
	}
	cmd := exec.Command(sleep, "600")
	// Go makes the new namespace's mounts private (MS_REC|MS_PRIVATE), so
	// nothing unmounted here propagates there.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting a process in a new mount namespace: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd.Process
}

// TestUnmountWithACopyInAnotherNamespace: Unmount returns once the target
// is unmounted although another mount namespace keeps the connection
// alive; the keeper then aborts that connection, so its server sees the
// end and the copy answers ENOTCONN.
func TestUnmountWithACopyInAnotherNamespace(t *testing.T) {
	requireFUSE(t)
	targets := makeTargets(t, 2)
	sock := filepath.Join(t.TempDir(), "keeper.sock")
	startRole(t, "keeper", true, sock)
	startRole(t, "server", true, append([]string{sock}, targets...)...)
	if _, err := os.ReadFile(filepath.Join(targets[0], "a")); err != nil {
		t.Fatal(err)
	}
	holder := holdCopy(t)
	c := keeper.NewClient(sock)
	done := make(chan error, 1)
	go func() { done <- c.Unmount(targets[0]) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Unmount: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Unmount did not return within 60 s: it waits for a connection another namespace holds")
	}
	copyAt := filepath.Join("/proc", strconv.Itoa(holder.Pid), "root", targets[0])
	var err error
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		var st unix.Statfs_t
		if err = unix.Statfs(copyAt, &st); errors.Is(err, syscall.ENOTCONN) {
			break
		}
	}
	if !errors.Is(err, syscall.ENOTCONN) {
		t.Errorf("statfs of the copy in the other namespace: %v, want ENOTCONN (the connection aborted)", err)
	}
	// The keeper still serves the other mount and answers.
	ms, err := c.List()
	if err != nil || len(ms) != 1 || ms[0].Target != targets[1] {
		t.Errorf("List = %+v, %v; want only %s", ms, err, targets[1])
	}
	if _, err := os.ReadFile(filepath.Join(targets[1], "a")); err != nil {
		t.Errorf("the other mount: %v", err)
	}
}
