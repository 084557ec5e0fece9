//go:build linux

package bench

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"
)

// runner carries what every measure needs, and what later measures reuse
// from earlier ones (the scale model uses measure 4's counts).
type runner struct {
	env  *env
	plan plan
	dir  string
	log  func(format string, args ...any)
	res  *Results
	// perNodePerTTL is measure 4's steady-state GETs per TTL for the most
	// pods of one identity; objects is M.
	perNodePerTTL, perNodePods float64
	profile                    []string
}

// measureFunc runs one measure; an error is recorded in the report.
type measureFunc func(ctx context.Context, r *runner) (Measure, error)

var measures = []struct {
	id    int
	title string
	fn    measureFunc
}{
	{1, "Warm read latency", measureWarm},
	{2, "Cold first read of an uncached object", measureCold},
	{3, "NodePublishVolume latency", measurePublish},
	{4, "Key Vault requests per TTL", measureRequests},
	{5, "Rotation propagation", measureRotation},
	{6, "Scale and memory of the node process", measureScale},
	{7, "Concurrent read throughput", measureThroughput},
	{8, "Behaviour under Key Vault faults", measureFaults},
	{9, "Scale model past this machine", measureModel},
}

// Run runs every measure (or cfg.Only), and writes the report to
// cfg.OutDir. A measure that fails is reported with its error and the
// others still run; Run returns an error only when nothing could start.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("bench mounts FUSE and tmpfs: run it as root")
	}
	dir, err := os.MkdirTemp("", "secretfs-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	e, err := newEnv(dir)
	if err != nil {
		return nil, err
	}
	defer e.close()
	r := &runner{env: e, plan: planFor(cfg.Quick), dir: dir, log: cfg.Log}
	if r.log == nil {
		r.log = func(string, ...any) {}
	}
	r.res = &Results{Mode: modeName(cfg.Quick), Machine: machine(), Started: time.Now().UTC()}
	for _, m := range measures {
		if len(cfg.Only) > 0 && !slices.Contains(cfg.Only, m.id) {
			continue
		}
		r.res.Measures = append(r.res.Measures, r.runOne(ctx, m.id, m.title, m.fn))
	}
	r.res.Profile = r.profile
	r.res.Elapsed = time.Since(r.res.Started)
	if cfg.OutDir != "" {
		if err := writeOutputs(cfg.OutDir, r.res); err != nil {
			return r.res, err
		}
	}
	return r.res, nil
}

func (r *runner) runOne(ctx context.Context, id int, title string, fn measureFunc) Measure {
	start := time.Now()
	r.log("measure %d: %s", id, title)
	m, err := fn(ctx, r)
	m.ID, m.Title = id, title
	if err != nil {
		m.Err = err.Error()
		r.log("measure %d failed: %v", id, err)
	}
	r.env.kv.SetLatency(0)
	r.env.kv.ClearFault()
	r.env.kv.SetOutage(false)
	r.log("measure %d done in %v", id, time.Since(start).Round(time.Millisecond))
	return m
}

func modeName(quick bool) string {
	if quick {
		return "quick"
	}
	return "full"
}
