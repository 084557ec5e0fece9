//go:build linux

package fusefs

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestUnmountBusyThenClean: Unmount says busy while a file is open, works
// after it is closed, and is idempotent.
func TestUnmountBusyThenClean(t *testing.T) {
	requireFUSE(t)
	dir := t.TempDir()
	m, err := Mount(dir, sampleFiles, newMemSource(sampleData), Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "db-password"))
	if err != nil {
		t.Fatal(err)
	}
	err = m.Unmount()
	if !errors.Is(err, syscall.EBUSY) || !strings.Contains(err.Error(), "busy") {
		t.Errorf("Unmount with an open file: %v, want EBUSY saying busy", err)
	}
	f.Close()
	for i := range 2 {
		if err := m.Unmount(); err != nil {
			t.Errorf("Unmount #%d: %v", i+1, err)
		}
	}
	m.Wait()
	if isMounted(t, dir) {
		t.Errorf("%s still mounted", dir)
	}
}

// TestUnmountFromOutside: an umount by someone else ends the server; Wait
// returns and Unmount has nothing left to do.
func TestUnmountFromOutside(t *testing.T) {
	requireFUSE(t)
	dir := t.TempDir()
	m, err := Mount(dir, sampleFiles, newMemSource(sampleData), Options{})
	if err != nil {
		t.Fatal(err)
	}
	readString(t, filepath.Join(dir, "db-password"))
	if err := syscall.Unmount(dir, 0); err != nil {
		t.Fatal(err)
	}
	m.Wait()
	m.Changed("db-password") // must not touch what is now under dir
	if err := m.Unmount(); err != nil {
		t.Errorf("Unmount after an outside umount: %v", err)
	}
}

func isMounted(t *testing.T, dir string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

// TestServeHandedOverConnection: the owner opens /dev/fuse and mounts it
// with fd=N itself (as the keeper will); Serve answers on "/dev/fd/N".
// Unmount refuses (the mount is not ours); the owner's umount ends it.
func TestServeHandedOverConnection(t *testing.T) {
	requireFUSE(t)
	dir := t.TempDir()
	fd, err := syscall.Open("/dev/fuse", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	data := "fd=" + strconv.Itoa(fd) + ",rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions"
	if err := syscall.Mount("secretfs", dir, "fuse.secretfs", syscall.MS_RDONLY|publicFlags, data); err != nil {
		syscall.Close(fd)
		t.Fatalf("mount fd=%d: %v", fd, err)
	}
	src := newMemSource(sampleData)
	m, err := Serve("/dev/fd/"+strconv.Itoa(fd), sampleFiles, src, Options{})
	if err != nil {
		syscall.Unmount(dir, syscall.MNT_DETACH)
		t.Fatal(err)
	}
	p := filepath.Join(dir, "tls-cert", "1")
	learnNoPoll(t, p)
	if got := readString(t, p); got != sampleData["tls-cert/1"] {
		t.Errorf("read %q", got)
	}
	src.set("tls-cert/1", []byte("served and rotated"))
	m.Changed("tls-cert/1")
	if got := readString(t, p); got != "served and rotated" {
		t.Errorf("after Changed: %q", got)
	}
	if err := m.Unmount(); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Unmount of a served connection: %v, want ErrUnsupported", err)
	}
	if err := syscall.Unmount(dir, 0); err != nil {
		t.Fatal(err)
	}
	m.Wait()
}

// learnNoPoll makes the kernel learn that the mount does not poll, before
// this process opens a file on it with os.Open. Go registers such files with
// epoll, and epoll_ctl on a FUSE file waits for a POLL reply while holding
// its P: with a GC stopping the world, the server never answers. go-fuse
// does this (its "poll hack") for mounts it makes, but not for /dev/fd/N.
// Poll(2) is an ordinary blocking syscall, and the server answers ENOSYS.
func learnNoPoll(t *testing.T, p string) {
	t.Helper()
	fd, err := syscall.Open(p, syscall.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
}

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

// TestUnmountWithACopyInAnotherNamespace: a copy of the mount in another
// mount namespace keeps the connection alive after our umount; Unmount
// still returns, the server stops, and the copy is dead (the connection
// was aborted), not served by a process that no longer knows it.
func TestUnmountWithACopyInAnotherNamespace(t *testing.T) {
	requireFUSE(t)
	dir := t.TempDir()
	m, err := Mount(dir, sampleFiles, newMemSource(sampleData), Options{})
	if err != nil {
		t.Fatal(err)
	}
	readString(t, filepath.Join(dir, "db-password"))
	holder := holdCopy(t)
	done := make(chan error, 1)
	go func() { done <- m.Unmount() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Unmount: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Unmount did not return within 60 s: it waits for a connection another namespace holds")
	}
	m.Wait()
	if isMounted(t, dir) {
		t.Errorf("%s still mounted here", dir)
	}
	var st unix.Statfs_t
	copyAt := filepath.Join("/proc", strconv.Itoa(holder.Pid), "root", dir)
	if err := unix.Statfs(copyAt, &st); !errors.Is(err, syscall.ENOTCONN) {
		t.Errorf("statfs of the copy in the other namespace: %v, want ENOTCONN (the connection aborted)", err)
	}
}
