//go:build linux

package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/secretfs/secretfs/files"
	"github.com/secretfs/secretfs/volume"
)

// measureThroughput is measure 7: many reader processes over many mounts.
func measureThroughput(ctx context.Context, r *runner) (Measure, error) {
	p := r.plan
	m := Measure{Method: fmt.Sprintf("%d volumes of one 4 KiB secret each (one identity, so one cache entry), mounted "+
		"by secretfs over FUSE (default mode and NoOpen) and as %d tmpfs mounts in the upstream `..data` layout. %d reader "+
		"processes loop open+read+close over all mounts (each starting at a different one) for %v; reads/s summed, "+
		"median and min–max over %d runs. No target in design.md; the ratio shows the cost of the daemon round trip under load.",
		p.mounts, p.mounts, p.readers, p.tputFor, p.runs), Plot: "throughput.svg"}
	value := randomValue(4096)
	name := r.env.setSecrets("tput", 1, value)[0]
	dirs := map[string][]string{}
	for _, s := range []struct {
		name string
		fo   volume.FuseOptions
	}{{"fuse", volume.FuseOptions{}}, {"fuse-noopen", volume.FuseOptions{NoOpen: true}}} {
		n, err := r.env.newNode(time.Hour, "fuse", s.fo)
		if err != nil {
			return m, err
		}
		defer n.close()
		for i := range p.mounts {
			t := filepath.Join(r.dir, "tput-"+s.name, fmt.Sprint(i))
			if err := n.mount(ctx, r.env, t, []string{name}, r.env.identity(0)); err != nil {
				return m, err
			}
			dirs[s.name] = append(dirs[s.name], filepath.Join(t, name))
		}
	}
	for i := range p.mounts {
		t := filepath.Join(r.dir, "tput-tmpfs", fmt.Sprint(i))
		if err := files.MountTmpfs(t); err != nil {
			return m, err
		}
		defer files.Unmount(t)
		if err := files.Write(t, []files.File{{Path: name, Mode: 0o644, Bytes: []byte(value)}}); err != nil {
			return m, err
		}
		dirs["tmpfs"] = append(dirs["tmpfs"], filepath.Join(t, name))
	}
	rates := map[string][]float64{}
	for range p.runs {
		for _, s := range []string{"tmpfs", "fuse", "fuse-noopen"} {
			rate, err := r.readAll(ctx, dirs[s], value)
			if err != nil {
				return m, fmt.Errorf("%s: %w", s, err)
			}
			rates[s] = append(rates[s], rate)
		}
	}
	for _, s := range []string{"fuse", "fuse-noopen"} {
		m.Rows = append(m.Rows, row(fmt.Sprintf("%d readers × %d mounts, %s", p.readers, p.mounts, s), "reads/s",
			statOf(rates[s]), statOf(rates["tmpfs"]), "tmpfs `..data`", "—", nil))
	}
	for _, s := range []string{"tmpfs", "fuse", "fuse-noopen"} {
		m.Series = append(m.Series, Series{Name: s, X: []float64{float64(p.readers)}, Y: []float64{statOf(rates[s]).Median}})
	}
	return m, nil
}

// readAll runs the readers at once and returns the summed reads per second.
func (r *runner) readAll(ctx context.Context, paths []string, want string) (float64, error) {
	procs := make([]*readerProc, r.plan.readers)
	for i := range procs {
		rot := append(append([]string(nil), paths[i%len(paths):]...), paths[:i%len(paths)]...)
		p, err := startReader(ctx, readerJob{Mode: "loop", Paths: rot, For: r.plan.tputFor, Want: want})
		if err != nil {
			return 0, err
		}
		procs[i] = p
	}
	var rate float64
	var firstErr error
	for _, p := range procs {
		out, err := p.wait()
		if err == nil && out.Errors+out.Mismatches > 0 {
			err = fmt.Errorf("%d read errors, %d wrong contents", out.Errors, out.Mismatches)
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
		rate += float64(out.Ops) / out.Elapsed.Seconds()
	}
	return rate, firstErr
}
