//go:build linux

package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/secretfs/secretfs/vault"
	"github.com/secretfs/secretfs/volume"
)

// objectsPerPod is M in measures 4, 6 and 9.
const objectsPerPod = 5

// ttlsCounted is how many TTLs measure 4 counts requests over.
const ttlsCounted = 3

// measureRequests is measure 4: Key Vault GETs counted at the emulator.
func measureRequests(ctx context.Context, r *runner) (Measure, error) {
	ttl := r.plan.reqTTL
	m := Measure{Method: fmt.Sprintf("P pods each mount the same M = %d secrets on one node (FUSE backend, TTL %v, 16 publishes at a time), "+
		"with one identity, then with one identity per pod. The emulator counts data-plane GETs: at publish, and over the "+
		"next %d TTLs (reported per TTL). Baseline: upstream's P × M per rotation interval (each pod's provider call "+
		"fetches every object). Target (design.md): M per TTL for one identity; P identities cannot share by design.",
		objectsPerPod, ttl, ttlsCounted), Plot: "requests.svg"}
	names := r.env.setSecrets("req", objectsPerPod, randomValue(512))
	sfs, base := Series{Name: "secretfs, one identity"}, Series{Name: "upstream P × M"}
	for _, perPod := range []bool{false, true} {
		for _, P := range r.plan.pods {
			atMount, perTTL, err := r.countRequests(ctx, names, P, perPod)
			if err != nil {
				return m, err
			}
			who, target, limit := "one identity", fmt.Sprintf("M = %d", objectsPerPod), float64(objectsPerPod)
			if perPod {
				who, target, limit = "P identities", "P × M (no sharing across identities)", float64(P*objectsPerPod)
			}
			upstream := float64(P * objectsPerPod)
			atMost := func(s, _, _ float64) bool { return s <= limit }
			m.Rows = append(m.Rows,
				row(fmt.Sprintf("P = %d, %s: GETs at publish", P, who), "GETs", one(atMount), one(upstream), "P × M", target, atMost),
				row(fmt.Sprintf("P = %d, %s: GETs per TTL", P, who), "GETs/TTL", one(perTTL), one(upstream), "P × M", target, atMost))
			if !perPod {
				sfs.X, sfs.Y = append(sfs.X, float64(P)), append(sfs.Y, perTTL)
				base.X, base.Y = append(base.X, float64(P)), append(base.Y, upstream)
				r.perNodePerTTL, r.perNodePods = perTTL, float64(P)
			}
		}
	}
	m.Series = []Series{sfs, base}
	return m, nil
}

// countRequests mounts P volumes on a fresh node and returns the GETs made
// at publish and per TTL afterwards.
func (r *runner) countRequests(ctx context.Context, names []string, P int, perPod bool) (float64, float64, error) {
	ttl := r.plan.reqTTL
	n, err := r.env.newNode(ttl, "fuse", volume.FuseOptions{})
	if err != nil {
		return 0, 0, err
	}
	defer n.close()
	creds := make([]vault.PodCredentials, P)
	for i := range creds {
		id := 0
		if perPod {
			id = 1000 + i
		}
		creds[i] = r.env.identity(id)
	}
	dir := filepath.Join(r.dir, fmt.Sprintf("req-%d-%t", P, perPod))
	r.env.kv.ResetCounts()
	// Pods start together, as a Deployment's replicas do; mounting them in
	// parallel also keeps the publish window well under one TTL, so no
	// refresh is counted as a publish GET.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i, pc := range creds {
		g.Go(func() error { return n.mount(gctx, r.env, filepath.Join(dir, fmt.Sprintf("pod%d", i)), names, pc) })
	}
	if err := g.Wait(); err != nil {
		return 0, 0, err
	}
	atMount := r.env.dataPlaneGets()
	time.Sleep(ttlsCounted * ttl)
	steady := r.env.dataPlaneGets() - atMount
	return float64(atMount), float64(steady) / ttlsCounted, nil
}
