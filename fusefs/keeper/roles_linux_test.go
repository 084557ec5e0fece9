//go:build linux

package keeper_test

// The processes of the restart tests: the test binary re-executed with
// KEEPER_TEST_ROLE set plays a keeper, a server or a reader, so that each
// can be killed, stopped or replaced like the real thing.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/secretfs/secretfs/fusefs"
	"github.com/secretfs/secretfs/fusefs/keeper"
)

const roleEnv = "KEEPER_TEST_ROLE"

// runRole runs the role named in the environment and reports whether it
// did (the process then exits).
func runRole() (int, bool) {
	role := os.Getenv(roleEnv)
	if role == "" {
		return 0, false
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	var err error
	switch role {
	case "keeper":
		err = keeperRole(ctx, os.Args[1:])
	case "server":
		err = serverRole(ctx, os.Args[1:])
	case "reader":
		err = readerRole(ctx, os.Args[1:])
	case "lister":
		err = listerRole(os.Args[1])
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, role+":", err)
		return 1, true
	}
	return 0, true
}

// keeperRole: keeper [-takeover] [-hung 30s] socket
func keeperRole(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("keeper", flag.ContinueOnError)
	takeover := fl.Bool("takeover", false, "take over from the running keeper")
	hung := fl.Duration("hung", 30*time.Second, "watchdog bound")
	if err := fl.Parse(args); err != nil {
		return err
	}
	cfg := keeper.Config{Socket: fl.Arg(0), HungAfter: *hung, KillHung: true, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	start := keeper.Start
	if *takeover {
		start = keeper.Takeover
	}
	k, err := start(cfg)
	if err != nil {
		return err
	}
	fmt.Println("ready")
	select {
	case <-k.Done():
		return k.Close()
	case <-ctx.Done():
		return k.Close()
	}
}

// listerRole: lister socket — lists the keeper's mounts and prints how
// many, or the error.
func listerRole(socket string) error {
	ms, err := keeper.NewClient(socket).List()
	if err != nil {
		fmt.Println("error:", err)
		return nil
	}
	fmt.Println("listed", len(ms))
	return nil
}

// testFiles is the tree every test mount serves: two top-level files and a
// history directory.
var testFiles = []fusefs.File{{Path: "a", Mode: 0o644}, {Path: "b", Mode: 0o600}, {Path: "hist/0", Mode: 0o644}, {Path: "hist/1", Mode: 0o644}}

// content is the fixed content of p: its name repeated to a size per file.
func content(p string) []byte {
	size := map[string]int{"a": 4096, "b": 100, "hist/0": 300, "hist/1": 9000}[p]
	return []byte(strings.Repeat(p+";", size)[:size])
}

type fixedSource struct{}

func (fixedSource) Read(ctx context.Context, p string) ([]byte, error) {
	if c := content(p); len(c) > 0 {
		return c, nil
	}
	return nil, os.ErrNotExist
}

// serverRole: server socket target... — serves every target through the
// keeper, prints "ready" when all are served, runs until killed.
func serverRole(ctx context.Context, args []string) error {
	c := keeper.NewClient(args[0])
	keep := make([]*os.File, len(args)-1)
	errs := make([]error, len(args)-1)
	var wg sync.WaitGroup
	for i, target := range args[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, _, err := c.Mount(target, "secretfs", nil)
			if err != nil {
				errs[i] = err
				return
			}
			keep[i] = f
			_, errs[i] = fusefs.Serve(fmt.Sprintf("/dev/fd/%d", f.Fd()), testFiles, fixedSource{}, fusefs.Options{})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Println("ready")
	<-ctx.Done()
	for _, f := range keep {
		f.Close()
	}
	return nil
}

// report is what a reader prints when it ends.
type report struct {
	Ops      int64
	Errors   int64
	Hung     int
	MaxStall time.Duration
	First    string // the first error
}

// readerRole: reader target... — loops over its targets until SIGTERM,
// one goroutine per target, and prints a report. Each target also has a
// file and its root directory held open across everything.
func readerRole(ctx context.Context, targets []string) error {
	var r reader
	var wg sync.WaitGroup
	busy := make([]atomic.Int64, len(targets)) // start of the op in progress (unix ns), 0 if none
	for i, t := range targets {
		wg.Add(1)
		go func() { defer wg.Done(); r.loop(ctx, t, &busy[i]) }()
	}
	<-ctx.Done()
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(10 * time.Second):
	}
	rep := report{Ops: r.ops.Load(), Errors: r.errs.Load(), MaxStall: time.Duration(r.maxStall.Load())}
	for i := range busy {
		if start := busy[i].Load(); start != 0 && time.Since(time.Unix(0, start)) > 5*time.Second {
			rep.Hung++
		}
	}
	if f, ok := r.first.Load().(string); ok {
		rep.First = f
	}
	return json.NewEncoder(os.Stdout).Encode(rep)
}

type reader struct {
	ops, errs, maxStall atomic.Int64
	first               atomic.Value
}

func (r *reader) fail(err error) {
	r.errs.Add(1)
	r.first.CompareAndSwap(nil, err.Error())
}

// loop runs every kind of operation on target until ctx ends.
func (r *reader) loop(ctx context.Context, target string, busy *atomic.Int64) {
	held, err := os.Open(filepath.Join(target, "a"))
	if err != nil {
		r.fail(err)
		return
	}
	defer held.Close()
	dir, err := os.Open(target)
	if err != nil {
		r.fail(err)
		return
	}
	defer dir.Close()
	ops := []func() error{
		func() error { return readWhole(target, "a") },
		func() error { return readWhole(target, "hist/1") },
		func() error { return statIs(target, "b") },
		func() error { return listIs(target, "", "a", "b", "hist") },
		func() error { return listIs(target, "hist", "0", "1") },
		func() error { return preadIs(held, "a") },
		func() error { return heldListIs(dir) },
	}
	for ctx.Err() == nil {
		for _, op := range ops {
			start := time.Now()
			busy.Store(start.UnixNano())
			err := op()
			busy.Store(0)
			d := time.Since(start)
			for cur := r.maxStall.Load(); int64(d) > cur && !r.maxStall.CompareAndSwap(cur, int64(d)); cur = r.maxStall.Load() {
			}
			r.ops.Add(1)
			if err != nil {
				r.fail(fmt.Errorf("%s: %w", target, err))
			}
		}
	}
}

func readWhole(target, p string) error {
	b, err := os.ReadFile(filepath.Join(target, p))
	if err != nil {
		return err
	}
	if string(b) != string(content(p)) {
		return fmt.Errorf("%s: read %d bytes that differ from the %d served", p, len(b), len(content(p)))
	}
	return nil
}

func statIs(target, p string) error {
	st, err := os.Stat(filepath.Join(target, p))
	if err != nil {
		return err
	}
	if st.Size() != int64(len(content(p))) || st.Mode().Perm() != 0o600 {
		return fmt.Errorf("%s: stat says size %d mode %v", p, st.Size(), st.Mode())
	}
	return nil
}

func listIs(target, dir string, want ...string) error {
	es, err := os.ReadDir(filepath.Join(target, dir))
	if err != nil {
		return err
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		return fmt.Errorf("%s: listed %v, want %v", path.Join(target, dir), got, want)
	}
	return nil
}

func preadIs(f *os.File, p string) error {
	want := content(p)
	b := make([]byte, len(want)+10)
	n, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if string(b[:n]) != string(want) {
		return fmt.Errorf("held %s: pread %d bytes that differ", p, n)
	}
	return nil
}

func heldListIs(d *os.File) error {
	if _, err := d.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("held directory: rewind: %w", err)
	}
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("held directory: %w", err)
	}
	if len(names) != 3 {
		return fmt.Errorf("held directory: listed %v", names)
	}
	return nil
}

// proc is a role process started by a test.
type proc struct {
	cmd *exec.Cmd
	out *bufio.Reader
}

// startRole starts role with args and waits for its "ready" line (roles
// that print none are not waited for).
func startRole(t testing.TB, role string, wait bool, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), roleEnv+"="+role)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, out: bufio.NewReader(out)}
	t.Cleanup(func() { p.kill() })
	if wait {
		line, err := p.out.ReadString('\n')
		if strings.TrimSpace(line) != "ready" {
			t.Fatalf("%s did not start: %q %v", role, line, err)
		}
	}
	return p
}

// kill kills the process (if still running) and reaps it.
func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
}

// stopReader ends a reader and returns its report.
func stopReader(t *testing.T, p *proc) report {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	var rep report
	done := make(chan error, 1)
	go func() { done <- json.NewDecoder(p.out).Decode(&rep) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("reader report: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("reader did not report within 30 s: hung")
		rep.Hung = -1
	}
	p.cmd.Wait()
	return rep
}

// makeTargets creates n mount points and makes sure nothing stays mounted
// on them after the test, whatever happened.
func makeTargets(t testing.TB, n int) []string {
	t.Helper()
	dir := t.TempDir()
	var ts []string
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("v%02d", i))
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		ts = append(ts, p)
	}
	t.Cleanup(func() {
		for _, p := range ts {
			for unix.Unmount(p, unix.MNT_DETACH) == nil {
			}
		}
	})
	return ts
}
