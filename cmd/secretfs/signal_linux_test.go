package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/secretfs/secretfs/vault/emulator/emulatortest"
)

// runMainEnv makes the test binary run main() instead of the tests, so a
// test can run `secretfs` as a child process and signal it as a user would.
const runMainEnv = "SECRETFS_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child is `secretfs args...` running as its own process.
type child struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
}

func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0], args...), stderr: &syncBuffer{}, done: make(chan error, 1)}
	c.cmd.Env = append(os.Environ(), runMainEnv+"=1")
	c.cmd.Stdout, c.cmd.Stderr = &syncBuffer{}, c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			c.cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// wait returns the child's exit error, or false if it is still running
// after d.
func (c *child) wait(d time.Duration) (error, bool) {
	select {
	case err := <-c.done:
		return err, true
	case <-time.After(d):
		return nil, false
	}
}

// exitCode fails the test unless err is a normal exit (not death by a
// signal: main must catch SIGINT and SIGTERM and return) and returns its code.
func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("wait: %v", err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Fatalf("killed by %v instead of handling it", ws.Signal())
	}
	return ee.ExitCode()
}

// TestMountEndsOnSIGTERMWhileVaultHangs: a Key Vault that never answers
// must not keep `secretfs mount` from ending on SIGTERM.
func TestMountEndsOnSIGTERMWhileVaultHangs(t *testing.T) {
	kv := emulatortest.Start(t)
	dir := t.TempDir()
	seed, err := seedDemo(kv, dir)
	if err != nil {
		t.Fatal(err)
	}
	kv.SetLatency(time.Hour)
	target := filepath.Join(dir, "mnt")
	c := startChild(t, "mount", "--spc", seed.spc, "--secrets", seed.secrets, "--target", target,
		"--ca-file", kv.CAFile(), "--resolve", "test="+kv.Addr(), "--cloud-env-dir", filepath.Dir(kv.CloudEnvFile()))
	waitFor(t, "a fetch reaching the hung vault", func() bool { return kv.Count("GetSecret") > 0 })
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err, ok := c.wait(30 * time.Second)
	if !ok {
		t.Fatalf("secretfs mount ignored SIGTERM for 30s while Key Vault hung\nstderr: %s", c.stderr)
	}
	if code := exitCode(t, err); code != 1 {
		t.Errorf("exit code %d, want 1\nstderr: %s", code, c.stderr)
	}
	if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("target %s was created (stat: %v)", target, err)
	}
}

// TestMountNeverBlocksOnAFIFO: every file `secretfs mount` reads (the
// class, the credentials, the cloud environment file) may be a FIFO by
// mistake or malice; opening one used to block in open(2) forever, deaf to
// SIGTERM. The command must refuse it at once, or at least end on SIGTERM.
func TestMountNeverBlocksOnAFIFO(t *testing.T) {
	kv := emulatortest.Start(t)
	dir := t.TempDir()
	seed, err := seedDemo(kv, dir)
	if err != nil {
		t.Fatal(err)
	}
	envDir := t.TempDir()
	fifo := filepath.Join(envDir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	spc, err := os.ReadFile(seed.spc)
	if err != nil {
		t.Fatal(err)
	}
	fifoCloud := filepath.Join(dir, "fifo-cloud.yaml")
	if err := os.WriteFile(fifoCloud, bytes.Replace(spc, []byte(kv.CloudEnvFile()), []byte(fifo), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, spc, secrets, says string
	}{
		{"class", fifo, seed.secrets, "not a regular file"},
		{"credentials", seed.spc, fifo, "not a regular file"},
		{"cloud environment file", fifoCloud, seed.secrets, "not a regular file (a FIFO)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := filepath.Join(dir, "mnt-"+strings.ReplaceAll(tc.name, " ", "-"))
			envDirFlag := envDir
			if tc.name != "cloud environment file" {
				envDirFlag = filepath.Dir(kv.CloudEnvFile())
			}
			c := startChild(t, "mount", "--spc", tc.spc, "--secrets", tc.secrets, "--target", target,
				"--ca-file", kv.CAFile(), "--resolve", "test="+kv.Addr(), "--cloud-env-dir", envDirFlag)
			err, ok := c.wait(30 * time.Second)
			if !ok {
				c.cmd.Process.Signal(syscall.SIGTERM)
				if _, ok := c.wait(30 * time.Second); !ok {
					t.Fatal("secretfs mount blocked on the FIFO and ignored SIGTERM")
				}
				t.Fatal("secretfs mount blocked on the FIFO until SIGTERM")
			}
			if code := exitCode(t, err); code != 1 || !strings.Contains(c.stderr.String(), tc.says) {
				t.Errorf("exit code %d, stderr %q; want 1 and %q", code, c.stderr, tc.says)
			}
		})
	}
}

func TestCloudEnvDirChecked(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ dir, says string }{
		{"etc/kubernetes", "want an absolute path"},
		{filepath.Join(t.TempDir(), "missing"), "no such file"},
		{file, "not a directory"},
	} {
		for _, cmd := range [][]string{
			{"node", "--node-id", "n", "--cloud-env-dir", tc.dir},
			{"mount", "--spc", "x.yaml", "--target", "t", "--cloud-env-dir", tc.dir},
		} {
			err := run(t.Context(), cmd, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "--cloud-env-dir") || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("%s --cloud-env-dir %s: err = %v, want it to name the flag and say %q", cmd[0], tc.dir, err, tc.says)
			}
		}
	}
}
