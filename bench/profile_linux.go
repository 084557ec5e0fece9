//go:build linux

package bench

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"

	"github.com/google/pprof/profile"
)

// profileWarm profiles this process — the FUSE server — while a reader
// does warm open+read+close on the default-mode mount, and returns the
// top functions by flat samples, as `go tool pprof -top` shows them.
func (r *runner) profileWarm(ctx context.Context, dir string, names []string) ([]string, error) {
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	_, err := runReader(ctx, readerJob{Mode: "open", Paths: join(dir, names), Iters: 4 * r.plan.warmIters})
	pprof.StopCPUProfile()
	if err != nil {
		return nil, err
	}
	p, err := profile.Parse(&buf)
	if err != nil {
		return nil, fmt.Errorf("parsing the cpu profile: %w", err)
	}
	return topFunctions(p, 15, seconds), nil
}

// seconds formats CPU nanoseconds; kib formats bytes.
func seconds(v int64) string { return fmt.Sprintf("%.2fs", float64(v)/1e9) }
func kib(v int64) string     { return fmt.Sprintf("%.0fKiB", float64(v)/1024) }

// heapTop parses a heap profile file and returns the top in-use functions.
func heapTop(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("parsing the heap profile: %w", err)
	}
	return topFunctions(p, n, kib), nil
}

// topFunctions is flat and cumulative value per function, top n by flat,
// of the profile's last sample type (CPU time, or in-use heap bytes).
func topFunctions(p *profile.Profile, n int, unit func(int64) string) []string {
	idx := len(p.SampleType) - 1
	flat, cum := map[string]int64{}, map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		v := s.Value[idx]
		total += v
		seen := map[string]bool{}
		for i, loc := range s.Location {
			for j, line := range loc.Line {
				fn := line.Function.Name
				if i == 0 && j == 0 {
					flat[fn] += v
				}
				if !seen[fn] {
					cum[fn] += v
					seen[fn] = true
				}
			}
		}
	}
	fns := make([]string, 0, len(cum))
	for fn := range cum {
		fns = append(fns, fn)
	}
	slices.SortFunc(fns, func(a, b string) int {
		return cmp.Or(cmp.Compare(flat[b], flat[a]), cmp.Compare(cum[b], cum[a]), cmp.Compare(a, b))
	})
	out := []string{fmt.Sprintf("%9s %6s %9s %6s  %s (total %s)", "flat", "flat%", "cum", "cum%", "function", unit(total))}
	pct := func(v int64) float64 { return 100 * float64(v) / float64(max(total, 1)) }
	for _, fn := range fns[:min(n, len(fns))] {
		out = append(out, fmt.Sprintf("%9s %5.1f%% %9s %5.1f%%  %s", unit(flat[fn]), pct(flat[fn]), unit(cum[fn]), pct(cum[fn]), fn))
	}
	return out
}
