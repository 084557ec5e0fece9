//go:build linux

package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/secretfs/secretfs/vault"
	"github.com/secretfs/secretfs/volume"
)

// publishLatency is L for measure 3.
const publishLatency = 20 * time.Millisecond

// measurePublish is measure 3: NodePublishVolume through the real gRPC
// service against fetching the objects one after another.
func measurePublish(ctx context.Context, r *runner) (Measure, error) {
	m := Measure{Method: "csi.NewNodeServer served in this process on a unix socket (the SecretProviderClass comes from " +
		"an in-memory ClassGetter instead of a kube-apiserver informer, whose Get is a local lookup in `secretfs node` too), " +
		"FUSE backend, called over gRPC with the request kubelet sends for an inline volume. Every run publishes M objects " +
		"never fetched before (a cold cache) with a warm credential, emulator latency L = 20 ms; then unpublishes. " +
		"Baseline: the upstream pattern, the same M GETs one after another with a warm SDK client. " +
		"A second pod then publishes the same class with the cache warm: that is the node's own cost " +
		"(gRPC, validation, credential check, FUSE mount, state file) without Key Vault. " +
		"Target (design.md, for M = 10): ≤ 1.5 L = 30 ms.", Plot: "publish.svg"}
	n, err := r.env.newNode(time.Hour, "fuse", volume.FuseOptions{})
	if err != nil {
		return m, err
	}
	defer n.close()
	classes := newClassMap()
	c, err := startCSI(n, classes, filepath.Join(r.dir, "publish.sock"), r.env.cloudEnvDir())
	if err != nil {
		return m, err
	}
	defer c.stop()
	client, _, err := r.warmClient(ctx)
	if err != nil {
		return m, err
	}
	pc := r.env.identity(0)
	if _, _, _, err := r.publishOnce(ctx, c, classes, "warm", 1, pc); err != nil { // token, client, socket
		return m, err
	}
	r.env.kv.SetLatency(publishLatency)
	defer r.env.kv.SetLatency(0)
	sfs, base := Series{Name: "secretfs NodePublishVolume"}, Series{Name: "upstream: sequential GETs"}
	for _, M := range r.plan.publishM {
		var pub, warm, mnt, seq []float64
		for run := range r.plan.publishRuns {
			d, w, mt, err := r.publishOnce(ctx, c, classes, fmt.Sprintf("pub%d-%d", M, run), M, pc)
			if err != nil {
				return m, err
			}
			pub, warm, mnt = append(pub, d), append(warm, w), append(mnt, mt)
			d, err = r.sequential(ctx, client, fmt.Sprintf("seq%d-%d", M, run), M)
			if err != nil {
				return m, err
			}
			seq = append(seq, d)
		}
		L := float64(publishLatency.Milliseconds())
		m.Rows = append(m.Rows, row(fmt.Sprintf("M = %d objects, L = 20 ms", M), "ms", statOf(pub), statOf(seq),
			"sequential GETs", "≤ 1.5 L = 30 ms", func(s, _, _ float64) bool { return s <= 1.5*L }),
			row(fmt.Sprintf("M = %d, of which Mounter.Mount (fetch + FUSE mount)", M), "ms", statOf(mnt), statOf(seq),
				"sequential GETs", "—", nil),
			row(fmt.Sprintf("M = %d, second pod (cache warm: no Key Vault call)", M), "ms", statOf(warm), one(0),
				"—", "— (the node's own cost)", nil))
		sfs.X, sfs.Y = append(sfs.X, float64(M)), append(sfs.Y, statOf(pub).Median)
		base.X, base.Y = append(base.X, float64(M)), append(base.Y, statOf(seq).Median)
	}
	m.Series = []Series{sfs, base}
	m.Notes = append(m.Notes, "A cold publish minus its Mounter.Mount row is the node service's part outside the Mounter "+
		"(gRPC, validation, class lookup, state); compare it with the second pod's whole publish, where the same steps run "+
		"with nothing to fetch.")
	return m, nil
}

// publishOnce publishes a new class of M fresh secrets for two pods, the
// second finding the cache warm, returns both latencies in ms, and
// unpublishes.
func (r *runner) publishOnce(ctx context.Context, c *csiNode, classes *classMap, tag string, M int, pc vault.PodCredentials) (cold, warm, mount float64, err error) {
	names := r.env.setSecrets(tag, M, randomValue(1024))
	classes.set("bench", tag, r.env.paramMap(names))
	var ds [2]float64
	for pod := range ds {
		target := filepath.Join(r.dir, "kubelet", tag, fmt.Sprint(pod), "mount")
		t0 := time.Now()
		if _, err := c.client.NodePublishVolume(ctx, publishRequest(target, "bench", tag, pod, pc)); err != nil {
			return 0, 0, 0, fmt.Errorf("NodePublishVolume %s: %w", tag, err)
		}
		ds[pod] = float64(time.Since(t0)) / float64(time.Millisecond)
		if pod == 0 {
			mount = float64(c.mounter.lastMount()) / float64(time.Millisecond)
		}
		defer func() {
			if _, uerr := c.client.NodeUnpublishVolume(ctx, unpublishRequest(target)); uerr != nil && err == nil {
				err = fmt.Errorf("NodeUnpublishVolume %s: %w", tag, uerr)
			}
		}()
	}
	return ds[0], ds[1], mount, nil
}

// sequential fetches M fresh secrets one after another, as the upstream
// provider does, and returns the time in ms.
func (r *runner) sequential(ctx context.Context, client *vault.Client, tag string, M int) (float64, error) {
	names := r.env.setSecrets(tag, M, randomValue(1024))
	t0 := time.Now()
	for _, n := range names {
		if _, err := client.Fetch(ctx, vault.Object{Name: n, Type: vault.TypeSecret}, ""); err != nil {
			return 0, err
		}
	}
	return float64(time.Since(t0)) / float64(time.Millisecond), nil
}
