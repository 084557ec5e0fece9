package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secretfs/secretfs/vault/emulator/emulatortest"
)

// These tests run the subcommands as a user would (real emulator over TLS,
// real FUSE mounts as root), through run().

// syncBuffer is an io.Writer safe to read while run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs args in the background; stop cancels it and returns its error.
func start(t *testing.T, args ...string) (out *syncBuffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out = &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, out) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				err = errors.New("did not stop within 30s")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return out, stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func isMounted(t *testing.T, dir string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(b), " "+dir+" ")
}

func TestMountReadsRotatesAndUnmountsOnCancel(t *testing.T) {
	kv := emulatortest.Start(t)
	dir := t.TempDir()
	seed, err := seedDemo(kv, dir)
	if err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "mnt")
	out, stop := start(t, "mount", "--spc", seed.spc, "--secrets", seed.secrets, "--target", target,
		"--ttl", "300ms", "--backend", "fuse", "--ca-file", kv.CAFile(), "--resolve", "test="+kv.Addr(),
		"--cloud-env-dir", filepath.Dir(kv.CloudEnvFile()))
	waitFor(t, "mounted", func() bool { return strings.Contains(out.String(), "mounted 6 files") })

	got, err := os.ReadFile(filepath.Join(target, "db-password"))
	if err != nil || string(got) != "demo-password-1" {
		t.Fatalf("db-password = %q, %v", got, err)
	}
	for _, name := range []string{"web-tls.crt", "web-tls.pem", "web-tls.pfx", "signing-key.pub.pem", "db-password-history/0"} {
		if _, err := os.Stat(filepath.Join(target, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	kv.SetSecret(demoVault, "db-password", "rotated", "")
	waitFor(t, "rotation", func() bool {
		b, _ := os.ReadFile(filepath.Join(target, "db-password"))
		return string(b) == "rotated"
	})
	if err := stop(); err != nil {
		t.Fatalf("mount exited with %v", err)
	}
	if isMounted(t, target) {
		t.Errorf("%s still mounted after the command ended", target)
	}
}

func TestMountRefusesBadInputAndLeavesTargetAlone(t *testing.T) {
	kv := emulatortest.Start(t)
	dir := t.TempDir()
	seed, err := seedDemo(kv, dir)
	if err != nil {
		t.Fatal(err)
	}
	spc, _ := os.ReadFile(seed.spc)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	typo := write("typo.yaml", strings.Replace(string(spc), "objectAlias: web-tls.crt", "objectAlais: web-tls.crt", 1))
	wrongCreds := write("wrong.yaml", "clientid: 00000000-0000-0000-0000-00000000d3e0\nclientsecret: not-the-secret\n")
	for _, tc := range []struct {
		name, spc, secrets, says string
	}{
		{"misspelled object field", typo, seed.secrets, "objectAlais"},
		{"wrong client secret", seed.spc, wrongCreds, "access denied"},
		{"missing file", filepath.Join(dir, "nope.yaml"), seed.secrets, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := filepath.Join(dir, "target-"+strings.ReplaceAll(tc.name, " ", "-"))
			err := run(context.Background(), []string{"mount", "--spc", tc.spc, "--secrets", tc.secrets, "--target", target,
				"--ca-file", kv.CAFile(), "--resolve", "test=" + kv.Addr(), "--cloud-env-dir", filepath.Dir(kv.CloudEnvFile())}, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err = %v, want it to say %q", err, tc.says)
			}
			if strings.Contains(err.Error(), "not-the-secret") {
				t.Errorf("error quotes the client secret: %v", err)
			}
			if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("target %s was created (stat: %v)", target, err)
			}
		})
	}
}

func TestDemoMountsAndRotates(t *testing.T) {
	target := filepath.Join(t.TempDir(), "demo")
	out, stop := start(t, "demo", "--target", target, "--ttl", "200ms", "--rotate", "300ms")
	waitFor(t, "demo mounted", func() bool { return strings.Contains(out.String(), "mounted 6 files") })
	first, err := os.ReadFile(filepath.Join(target, "db-password"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "demo rotation visible", func() bool {
		b, _ := os.ReadFile(filepath.Join(target, "db-password"))
		return len(b) > 0 && !bytes.Equal(b, first)
	})
	if err := stop(); err != nil {
		t.Fatalf("demo exited with %v", err)
	}
	if isMounted(t, target) {
		t.Errorf("demo left %s mounted", target)
	}
}

func TestEmulatorCommandPrintsHowToMount(t *testing.T) {
	dir := t.TempDir()
	out, stop := start(t, "emulator", "--listen", "127.0.0.1:0", "--dir", dir)
	waitFor(t, "emulator banner", func() bool { return strings.Contains(out.String(), "secretfs mount --spc") })
	for _, f := range []string{"ca.pem", "cloud.json", "spc.yaml", "secrets.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
