//go:build linux

package bench

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/secretfs/secretfs/volume"
)

// measureRotation is measure 5: time from a new version in Key Vault to a
// reader seeing it, for the FUSE and the files backend.
func measureRotation(ctx context.Context, r *runner) (Measure, error) {
	ttl := r.plan.reqTTL
	m := Measure{Method: fmt.Sprintf("One volume of %d secrets per backend, TTL %v. For each secret concurrently, %d times: "+
		"wait a random 0..TTL, set a new version in the emulator, then open+read the file every 2 ms until the new bytes "+
		"appear. Samples are pooled; p50 with min–max, and p99. Baseline: the TTL. Target (design.md): ≤ TTL + 1 s.",
		r.plan.rotObjects, ttl, r.plan.rotations), Plot: "rotation.svg"}
	limit := float64(ttl+time.Second) / float64(time.Millisecond)
	for _, backend := range []string{"fuse", "files"} {
		samples, err := r.rotate(ctx, backend)
		if err != nil {
			return m, fmt.Errorf("%s backend: %w", backend, err)
		}
		s := statOf(samples)
		base := one(float64(ttl) / float64(time.Millisecond))
		target := fmt.Sprintf("≤ TTL + 1 s = %.0f ms", limit)
		within := func(v, _, _ float64) bool { return v <= limit }
		m.Rows = append(m.Rows,
			row(backend+" backend, p50", "ms", s, base, "TTL", target, within),
			row(backend+" backend, p99", "ms", one(quantile(statSorted(samples), 0.99)), base, "TTL", target, within))
		m.Series = append(m.Series, Series{Name: backend, X: statSorted(samples), Y: pctAxis(len(samples))})
	}
	ttlMs := float64(ttl) / float64(time.Millisecond)
	m.Series = append(m.Series,
		Series{Name: "TTL", X: []float64{ttlMs, ttlMs}, Y: []float64{0, 100}},
		Series{Name: "target TTL + 1 s", X: []float64{limit, limit}, Y: []float64{0, 100}})
	return m, nil
}

// rotate runs the rotations on a fresh node and returns the delays in ms.
func (r *runner) rotate(ctx context.Context, backend string) ([]float64, error) {
	ttl := r.plan.reqTTL
	n, err := r.env.newNode(ttl, backend, volume.FuseOptions{})
	if err != nil {
		return nil, err
	}
	defer n.close()
	names := r.env.setSecrets("rot-"+backend, r.plan.rotObjects, "generation-0")
	target := filepath.Join(r.dir, "rot-"+backend)
	if err := n.mount(ctx, r.env, target, names, r.env.identity(0)); err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var samples []float64
	g, gctx := errgroup.WithContext(ctx)
	for _, name := range names {
		g.Go(func() error {
			for gen := 1; gen <= r.plan.rotations; gen++ {
				time.Sleep(rand.N(ttl))
				d, err := r.rotateOnce(gctx, target, name, gen)
				if err != nil {
					return err
				}
				mu.Lock()
				samples = append(samples, d)
				mu.Unlock()
			}
			return nil
		})
	}
	return samples, g.Wait()
}

// rotateOnce sets generation gen of name and polls until the file shows it.
func (r *runner) rotateOnce(ctx context.Context, target, name string, gen int) (float64, error) {
	want := []byte(fmt.Sprintf("generation-%d", gen))
	deadline := time.Now().Add(10*r.plan.reqTTL + 10*time.Second)
	t0 := time.Now()
	r.env.kv.SetSecret(benchVault, name, string(want), "")
	for {
		b, err := os.ReadFile(filepath.Join(target, name))
		if err == nil && bytes.Equal(b, want) {
			return float64(time.Since(t0)) / float64(time.Millisecond), nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, fmt.Errorf("%s generation %d not seen within %v (last read %d bytes, err %v)", name, gen, time.Since(t0), len(b), err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
