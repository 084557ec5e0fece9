//go:build linux

package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"time"

	"github.com/secretfs/secretfs/files"
	"github.com/secretfs/secretfs/volume"
)

// setup is one place the same bytes are read from.
type setup struct {
	name string // "tmpfs", "fuse", "fuse-noopen"
	dir  string
}

// randomValue is n printable bytes (a secret's value is a string).
func randomValue(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawStdEncoding.EncodeToString(b)[:n]
}

// warmSetups mounts the same secrets on FUSE (both kernel cache modes) and
// on a tmpfs laid out as the upstream driver writes it (files.Write: the
// `..data` symlink swap). close undoes all of it.
func warmSetups(ctx context.Context, r *runner, names []string, values map[string]string, tag string) ([]setup, func() error, error) {
	base, err := mkdirs(r.dir, tag)
	if err != nil {
		return nil, nil, err
	}
	pc := r.env.identity(0)
	var closers []func() error
	closeAll := func() error {
		var first error
		for i := len(closers) - 1; i >= 0; i-- {
			if err := closers[i](); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	var out []setup
	tmp := filepath.Join(base, "tmpfs")
	if err := files.MountTmpfs(tmp); err != nil {
		return nil, closeAll, err
	}
	closers = append(closers, func() error { return files.Unmount(tmp) })
	var set []files.File
	for _, n := range names {
		set = append(set, files.File{Path: n, Mode: 0o644, Bytes: []byte(values[n])})
	}
	if err := files.Write(tmp, set); err != nil {
		return nil, closeAll, err
	}
	out = append(out, setup{"tmpfs", tmp})
	for _, s := range []struct {
		name string
		fo   volume.FuseOptions
	}{{"fuse", volume.FuseOptions{}}, {"fuse-noopen", volume.FuseOptions{NoOpen: true}}} {
		n, err := r.env.newNode(time.Hour, "fuse", s.fo)
		if err != nil {
			return nil, closeAll, err
		}
		closers = append(closers, n.close)
		target := filepath.Join(base, s.name)
		if err := n.mount(ctx, r.env, target, names, pc); err != nil {
			return nil, closeAll, err
		}
		out = append(out, setup{s.name, target})
	}
	return out, closeAll, nil
}

// measureWarm is measure 1: warm open+read+close and pread latency.
func measureWarm(ctx context.Context, r *runner) (Measure, error) {
	m := Measure{Method: "Each size is one Key Vault secret, mounted by secretfs over FUSE in its default mode " +
		"(every open gets a handle: rotation-consistent reads) and with NoOpen (kernel no_open: tmpfs-like warm reads, " +
		"reads may tear across a rotation), and written with files.Write to a tmpfs in the upstream `..data` symlink layout. " +
		"A separate reader process times each open+read-to-EOF+close (or pread at offset 0 on a descriptor opened once) " +
		"with raw system calls, after one warm-up pass; p50 and p99 per run, median and min–max over runs. " +
		"Targets (design.md): open+read+close ≤ 1.5× tmpfs, pread ≤ 1.1× tmpfs, judged on p50."}
	values := map[string]string{}
	var names []string
	for _, size := range r.plan.sizes {
		n := fmt.Sprintf("warm-%d", size)
		values[n] = randomValue(size)
		r.env.kv.SetSecret(benchVault, n, values[n], "")
		names = append(names, n)
	}
	setups, closeAll, err := warmSetups(ctx, r, names, values, "warm")
	defer func() {
		if closeAll != nil {
			closeAll()
		}
	}()
	if err != nil {
		return m, err
	}
	for _, s := range setups { // warm the kernel caches
		if _, err := runReader(ctx, readerJob{Mode: "open", Paths: join(s.dir, names), Iters: 3 * len(names)}); err != nil {
			return m, fmt.Errorf("%s warm-up: %w", s.name, err)
		}
	}
	for i, size := range r.plan.sizes {
		for _, op := range []string{"open", "pread"} {
			rows, series, err := r.warmCase(ctx, setups, names[i], size, op)
			if err != nil {
				return m, err
			}
			m.Rows = append(m.Rows, rows...)
			if size == 4096 && op == "open" {
				m.Series = series
			}
		}
	}
	m.Plot = "warm-read-4k.svg"
	m.Notes = append(m.Notes,
		"In the default mode every open+read+close of a warm file still costs a daemon round trip for OPEN, and "+
			"an asynchronous RELEASE (the bytes come from the kernel page cache: FOPEN_KEEP_CACHE, and FOPEN_NOFLUSH spares "+
			"the FLUSH); the profile at the end of the "+
			"report shows this process's side of them. That is the price of a rotation-consistent open. NoOpen (kernel "+
			"no_open) removes them, so warm reads cost what tmpfs costs, but a reader whose reads straddle a rotation can see "+
			"a torn file (see fusefs.Options.NoOpen).",
		"pread on an open descriptor never reaches the daemon in either mode: it is served from the page cache.")
	r.profile, err = r.profileWarm(ctx, setups[1].dir, names)
	if err != nil {
		m.Notes = append(m.Notes, "profile: "+err.Error())
	}
	return m, nil
}

// warmCase runs one size and operation on every setup, interleaved per run
// so drift hits all alike, and returns p50 and p99 rows per FUSE mode.
func (r *runner) warmCase(ctx context.Context, setups []setup, name string, size int, op string) ([]Row, []Series, error) {
	p50 := map[string][]float64{}
	p99 := map[string][]float64{}
	var series []Series
	for run := range r.plan.runs {
		for _, s := range setups {
			out, err := runReader(ctx, readerJob{Mode: op, Paths: []string{filepath.Join(s.dir, name)}, Iters: r.plan.warmIters})
			if err != nil {
				return nil, nil, fmt.Errorf("%s %s %s: %w", s.name, op, name, err)
			}
			p50[s.name] = append(p50[s.name], out.Pct[50])
			p99[s.name] = append(p99[s.name], out.Pct[99])
			if run == r.plan.runs-1 {
				series = append(series, Series{Name: s.name, X: out.Pct, Y: pctAxis(len(out.Pct))})
			}
		}
	}
	limit, what := 1.5, "open+read+close"
	if op == "pread" {
		limit, what = 1.1, "pread"
	}
	var rows []Row
	for _, mode := range []string{"fuse", "fuse-noopen"} {
		c := fmt.Sprintf("%s %s, %s", sizeName(size), what, mode)
		rows = append(rows,
			row(c+" p50", "µs", statOf(p50[mode]), statOf(p50["tmpfs"]), "tmpfs `..data`", fmt.Sprintf("≤ %.1f×", limit), ratioAtMost(limit)),
			row(c+" p99", "µs", statOf(p99[mode]), statOf(p99["tmpfs"]), "tmpfs `..data`", "—", nil))
	}
	return rows, series, nil
}

func pctAxis(n int) []float64 {
	y := make([]float64, n)
	for i := range y {
		y[i] = 100 * float64(i) / float64(n-1)
	}
	return y
}

func sizeName(size int) string {
	if size >= 1024 {
		return fmt.Sprintf("%d KiB", size/1024)
	}
	return fmt.Sprintf("%d B", size)
}

func join(dir string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = filepath.Join(dir, n)
	}
	return out
}
