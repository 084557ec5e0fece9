//go:build linux

package bench

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/secretfs/secretfs/vault/emulator"
	"github.com/secretfs/secretfs/volume"
)

// measureFaults is measure 8: reads during a 429 storm and an outage.
func measureFaults(ctx context.Context, r *runner) (Measure, error) {
	p := r.plan
	ttl := p.faultTTL
	m := Measure{Method: fmt.Sprintf("One volume of %d secrets (FUSE, TTL %v). Two reader processes loop "+
		"open+read+close with 1 ms pauses, checking every byte, while the emulator answers every GET with 429 "+
		"(Retry-After 1 s) for %v, then, after one TTL, has an outage (503 for everything) for %v. Staleness is "+
		"sampled from cache Stats().Staleness (the secretfs_cache_staleness metric) every 100 ms. Target: 0 read errors "+
		"and 0 wrong contents; the last good version is served throughout. Baseline for GET rates: the steady rate "+
		"before the storm.", objectsPerPod, ttl, p.stormFor, p.outageFor), Plot: "staleness.svg"}
	value := randomValue(1024)
	names := r.env.setSecrets("fault", objectsPerPod, value)
	n, err := r.env.newNode(ttl, "fuse", volume.FuseOptions{})
	if err != nil {
		return m, err
	}
	defer n.close()
	target := filepath.Join(r.dir, "faults")
	if err := n.mount(ctx, r.env, target, names, r.env.identity(0)); err != nil {
		return m, err
	}
	total := 2*ttl + p.stormFor + ttl + p.outageFor + 2*ttl
	var procs []*readerProc
	for range 2 {
		rp, err := startReader(ctx, readerJob{Mode: "loop", Paths: join(target, names), For: total, Want: value, Pause: time.Millisecond})
		if err != nil {
			return m, err
		}
		procs = append(procs, rp)
	}
	sampler := startStaleness(n, 100*time.Millisecond)
	steadyRate, stormRate, phases := r.faultTimeline(ttl, sampler.start)
	stale := sampler.stop()
	var ops, bad int
	for _, rp := range procs {
		out, err := rp.wait()
		if err != nil {
			return m, err
		}
		ops, bad = ops+out.Ops, bad+out.Errors+out.Mismatches
	}
	maxStale := 0.0
	for _, y := range stale.Y {
		maxStale = max(maxStale, y)
	}
	outage := p.outageFor.Seconds()
	m.Rows = []Row{
		row(fmt.Sprintf("read errors + wrong contents in %d reads", ops), "reads", one(float64(bad)), one(0), "none allowed", "0",
			func(s, _, _ float64) bool { return s == 0 }),
		row("max staleness served", "s", one(maxStale), one(outage), "outage length", "served (no bound)", nil),
		row("GETs/s during the 429 storm", "GETs/s", one(stormRate), one(steadyRate), "steady rate", "—", nil),
	}
	m.Series = []Series{stale}
	m.Notes = append(m.Notes, "timeline (s, as on the plot's x axis): "+phases)
	if stormRate > steadyRate {
		m.Notes = append(m.Notes, fmt.Sprintf("During the 429 storm secretfs asked Key Vault more often (%.2f GETs/s) than "+
			"in steady state (%.2f GETs/s, one per object per TTL): each throttled key is retried after the server's "+
			"Retry-After, which here is shorter than the TTL. Upstream does not back off either (it polls at its interval), "+
			"but honouring Retry-After alone does not lower the load on a throttled vault.", stormRate, steadyRate))
	}
	return m, nil
}

// faultTimeline runs steady → 429 storm → steady → outage → recovery and
// returns the GET rates before and during the storm, and when each phase
// began (seconds since start).
func (r *runner) faultTimeline(ttl time.Duration, start time.Time) (steady, storm float64, phases string) {
	kv := r.env.kv
	at := func(what string) { phases += fmt.Sprintf("%s at %.1f; ", what, time.Since(start).Seconds()) }
	g0 := r.env.dataPlaneGets()
	time.Sleep(2 * ttl)
	g1 := r.env.dataPlaneGets()
	at("429 storm")
	kv.SetFault(emulator.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second})
	time.Sleep(r.plan.stormFor)
	kv.ClearFault()
	at("storm ends")
	g2 := r.env.dataPlaneGets()
	time.Sleep(ttl)
	at("outage")
	kv.SetOutage(true)
	time.Sleep(r.plan.outageFor)
	kv.SetOutage(false)
	at("outage ends")
	time.Sleep(2 * ttl)
	return float64(g1-g0) / (2 * ttl).Seconds(), float64(g2-g1) / r.plan.stormFor.Seconds(), phases
}

// staleness samples a node's cache staleness until stop.
type staleness struct {
	start time.Time
	done  chan struct{}
	wg    sync.WaitGroup
	s     Series
}

func startStaleness(n *node, every time.Duration) *staleness {
	st := &staleness{start: time.Now(), done: make(chan struct{}), s: Series{Name: "staleness"}}
	start := st.start
	st.wg.Add(1)
	go func() {
		defer st.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-st.done:
				return
			case <-t.C:
				st.s.X = append(st.s.X, time.Since(start).Seconds())
				st.s.Y = append(st.s.Y, n.cache.Stats().Staleness.Seconds())
			}
		}
	}()
	return st
}

func (st *staleness) stop() Series {
	close(st.done)
	st.wg.Wait()
	return st.s
}
