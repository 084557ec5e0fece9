//go:build linux

package bench

import (
	"context"
	"fmt"
	"math"
)

// Key Vault's published throttling limit for secrets GET: 4,000
// transactions per 10 seconds per vault (Azure Key Vault service limits,
// "Secrets, managed storage account keys, and vault transactions",
// https://learn.microsoft.com/azure/key-vault/general/service-limits).
const kvLimitPer10s = 4000

// modelInterval is both designs' default refresh interval: upstream's
// --rotation-poll-interval 2m and secretfs's --ttl 2m.
const modelIntervalSec = 120.0

// measureModel is measure 9: Key Vault requests per 10 s for clusters
// larger than this machine, from measure 4's per-node counts.
func measureModel(_ context.Context, r *runner) (Measure, error) {
	m := Measure{Method: fmt.Sprintf("Requests per 10 s per vault = nodes × (GETs per node per interval) × 10 s / 120 s, "+
		"the interval being upstream's default rotation poll (2 min) and secretfs's default TTL (2 min). Upstream per node = "+
		"pods × M (M = %d). secretfs per node = the steady GETs per TTL measured in measure 4 for the most pods of one "+
		"identity (independent of pod density: one fetch per object per identity per node). Limit: %d GETs per 10 s per "+
		"vault, Key Vault's published service limit for secrets "+
		"(learn.microsoft.com/azure/key-vault/general/service-limits). Every pod is assumed to read the same vault with one "+
		"identity; with one identity per pod secretfs equals upstream (measure 4).", objectsPerPod, kvLimitPer10s),
		Plot: "scale-model.svg"}
	if r.perNodePerTTL == 0 {
		return m, fmt.Errorf("needs measure 4's counts: run measure 4 in the same run")
	}
	per10 := 10 / modelIntervalSec
	sfsNode := r.perNodePerTTL * per10
	limit := float64(kvLimitPer10s)
	for _, density := range []float64{10, 30, 110} {
		upNode := density * objectsPerPod * per10
		for _, nodes := range []float64{100, 1000, 5000} {
			m.Rows = append(m.Rows, row(fmt.Sprintf("%.0f nodes × %.0f pods/node", nodes, density), "GETs/10 s",
				one(nodes*sfsNode), one(nodes*upNode), "upstream", fmt.Sprintf("< %d (Key Vault limit)", kvLimitPer10s),
				func(s, _, _ float64) bool { return s < limit }))
		}
		m.Rows = append(m.Rows, row(fmt.Sprintf("nodes until 429s, %.0f pods/node", density), "nodes",
			one(math.Floor(limit/sfsNode)), one(math.Floor(limit/upNode)), "upstream", "—", nil))
	}
	m.Notes = append(m.Notes, fmt.Sprintf("secretfs per node: %.2f GETs per TTL measured with %.0f pods (M = %d).",
		r.perNodePerTTL, r.perNodePods, objectsPerPod))
	nodes := []float64{10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000}
	m.Series = append(m.Series, curve("secretfs (any density)", nodes, sfsNode))
	for _, density := range []float64{10, 30, 110} {
		m.Series = append(m.Series, curve(fmt.Sprintf("upstream, %.0f pods/node", density), nodes, density*objectsPerPod*per10))
	}
	m.Series = append(m.Series, curve("Key Vault limit", nodes, 0))
	return m, nil
}

// curve is perNode × nodes, or the Key Vault limit when perNode is 0.
func curve(name string, nodes []float64, perNode float64) Series {
	s := Series{Name: name, X: nodes}
	for _, n := range nodes {
		if perNode == 0 {
			s.Y = append(s.Y, kvLimitPer10s)
		} else {
			s.Y = append(s.Y, n*perNode)
		}
	}
	return s
}
