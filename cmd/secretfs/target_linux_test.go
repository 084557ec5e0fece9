package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/secretfs/secretfs/vault/emulator/emulatortest"
)

// TestMountLeavesExistingDirectoryAsFound: `secretfs mount` at a directory
// that holds a file, then Ctrl-C: the directory and the file are as they
// were (the files backend removed both).
func TestMountLeavesExistingDirectoryAsFound(t *testing.T) {
	kv := emulatortest.Start(t)
	dir := t.TempDir()
	seed, err := seedDemo(kv, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, backend := range []string{"files", "fuse"} {
		t.Run(backend, func(t *testing.T) {
			target := filepath.Join(dir, "existing-"+backend)
			if err := os.Mkdir(target, 0o755); err != nil {
				t.Fatal(err)
			}
			precious := filepath.Join(target, "p.txt")
			if err := os.WriteFile(precious, []byte("precious\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			out, stop := start(t, "mount", "--spc", seed.spc, "--secrets", seed.secrets, "--target", target,
				"--backend", backend, "--ca-file", kv.CAFile(), "--resolve", "test="+kv.Addr(), "--cloud-env-dir", filepath.Dir(kv.CloudEnvFile()))
			waitFor(t, "mounted", func() bool { return strings.Contains(out.String(), "mounted 6 files") })
			if b, err := os.ReadFile(filepath.Join(target, "db-password")); err != nil || string(b) != "demo-password-1" {
				t.Errorf("db-password = %q, %v", b, err)
			}
			if err := stop(); err != nil { // Ctrl-C
				t.Fatalf("mount exited with %v", err)
			}
			if isMounted(t, target) {
				t.Errorf("%s still mounted", target)
			}
			entries, err := os.ReadDir(target)
			if err != nil || len(entries) != 1 {
				t.Errorf("%s holds %v (err %v), want only p.txt", target, entries, err)
			}
			if b, err := os.ReadFile(precious); err != nil || string(b) != "precious\n" {
				t.Errorf("p.txt = %q, %v; want it untouched", b, err)
			}
		})
	}
}

// TestMountRefusesRegularFileTarget: `secretfs mount --target FILE` fails
// saying so, with no mount left over the file and the file intact (a dead
// read-write FUSE mount was left over it).
func TestMountRefusesRegularFileTarget(t *testing.T) {
	kv := emulatortest.Start(t)
	dir := t.TempDir()
	seed, err := seedDemo(kv, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, backend := range []string{"fuse", "files"} {
		t.Run(backend, func(t *testing.T) {
			file := filepath.Join(dir, "file-"+backend)
			if err := os.WriteFile(file, []byte("keep\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { unix.Unmount(file, unix.MNT_DETACH) })
			err := run(context.Background(), []string{"mount", "--spc", seed.spc, "--secrets", seed.secrets, "--target", file,
				"--backend", backend, "--ca-file", kv.CAFile(), "--resolve", "test=" + kv.Addr(), "--cloud-env-dir", filepath.Dir(kv.CloudEnvFile())}, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "not a directory") {
				t.Errorf("err = %v, want it to say not a directory", err)
			}
			if isMounted(t, file) {
				t.Errorf("a mount is left over %s", file)
			}
			if b, err := os.ReadFile(file); err != nil || string(b) != "keep\n" {
				t.Errorf("file = %q, %v; want it untouched", b, err)
			}
		})
	}
}
