//go:build linux

package keeper_test

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/secretfs/secretfs/fusefs/keeper"
)

// nobody is the uid and gid of the unprivileged peer.
const nobody = 65534

// TestRefusesOtherUsers: the socket is its owner's only, and even where
// another user could reach it (a wrong mode), the keeper refuses a peer
// that is neither root nor its own user: List returns memos, which hold
// pod credentials.
func TestRefusesOtherUsers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("running a peer as another user needs root: run the tests as root (make test and CI do)")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "keeper.sock")
	k, err := keeper.Start(keeper.Config{Socket: sock, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket %s: %v, %v; want mode 0600", sock, fi, err)
	}
	if es, err := os.ReadDir(dir); err != nil || len(es) != 1 {
		t.Errorf("the socket's directory holds %v (%v); want only the socket (the private directory it was made in is gone)", es, err)
	}
	// Let nobody reach the socket, as a wrong mode would.
	for _, p := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	bin := copyTestBinary(t, dir)
	if got := listAs(t, bin, sock, nil); got != "listed 0" {
		t.Fatalf("root's List: %q, want it listed", got)
	}
	got := listAs(t, bin, sock, &syscall.Credential{Uid: nobody, Gid: nobody})
	if !strings.Contains(got, "refused") || !strings.Contains(got, "65534") {
		t.Errorf("nobody's List: %q, want it refused naming the uid", got)
	}
}

// copyTestBinary copies this test binary into dir, where another user can
// run it (go test builds it in a directory only its user may enter).
func copyTestBinary(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "keeper.test")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// listAs runs the lister role of bin as cred (nil: as this process) and
// returns what it printed.
func listAs(t *testing.T, bin, sock string, cred *syscall.Credential) string {
	t.Helper()
	cmd := exec.Command(bin, sock)
	cmd.Env = append(os.Environ(), roleEnv+"=lister")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("lister: %v", err)
	}
	return strings.TrimSpace(string(out))
}
