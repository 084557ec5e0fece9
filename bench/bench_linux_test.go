//go:build linux

package bench_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/secretfs/secretfs/bench"
)

// TestMain lets the test binary serve as the harness's child processes
// (readers, the node service), as the secretfs-bench binary does.
func TestMain(m *testing.M) {
	if child, err := bench.RunChild(context.Background(), os.Stdin, os.Stdout); child {
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m,
		// go-fuse's per-mount reader goroutines end shortly after unmount.
		goleak.IgnoreTopFunction("github.com/hanwen/go-fuse/v2/fuse.(*Server).loop"),
		// net/http's keep-alive connections to the emulator close after it.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

// TestQuickBench runs the quick mode, as `make bench-quick` does, and
// checks only that every measure ran and produced numbers, and that the
// report, JSON and plots were written. It asserts nothing about speed.
func TestQuickBench(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("mounts FUSE and tmpfs: run the tests as root (make test and CI do); they fail rather than skip")
	}
	out := t.TempDir()
	res, err := bench.Run(context.Background(), bench.Config{Quick: true, OutDir: out, Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(res.Measures); got != 9 {
		t.Fatalf("ran %d measures, want 9", got)
	}
	for _, m := range res.Measures {
		if m.Err != "" {
			t.Errorf("measure %d (%s) failed: %s", m.ID, m.Title, m.Err)
		}
		if len(m.Rows) == 0 {
			t.Errorf("measure %d (%s) produced no rows", m.ID, m.Title)
		}
		for _, r := range m.Rows {
			if math.IsNaN(r.Secretfs.Median) || math.IsNaN(r.Baseline.Median) {
				t.Errorf("measure %d, %s: secretfs %v, baseline %v: want numbers", m.ID, r.Case, r.Secretfs, r.Baseline)
			}
		}
		if m.Plot != "" {
			if _, err := os.Stat(filepath.Join(out, m.Plot)); err != nil {
				t.Errorf("measure %d plot: %v", m.ID, err)
			}
		}
	}
	for _, f := range []string{"REPORT.md", "results.json"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s not written (err %v)", f, err)
		}
	}
}
