package bench

import (
	"encoding/json"
	"math"
	"time"
)

// Results is everything one run measured; it is written as results.json and
// rendered as REPORT.md.
type Results struct {
	Mode     string        `json:"mode"` // "quick" or "full"
	Machine  Machine       `json:"machine"`
	Started  time.Time     `json:"started"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Measures []Measure     `json:"measures"`
	// Profile is `pprof top` of the FUSE server while readers ran warm
	// open+read+close against its default (per-open handle) mode.
	Profile []string `json:"profile,omitempty"`
}

// Machine identifies where the numbers come from.
type Machine struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	MemTotal  string `json:"mem_total"`
}

// Measure is one of the nine measures of the issue: a table of rows plus the
// series its plot is drawn from.
type Measure struct {
	ID     int      `json:"id"`
	Title  string   `json:"title"`
	Method string   `json:"method"` // how it was measured, one paragraph
	Rows   []Row    `json:"rows"`
	Series []Series `json:"series,omitempty"`
	Plot   string   `json:"plot,omitempty"` // file name of the plot, if drawn
	Notes  []string `json:"notes,omitempty"`
	Err    string   `json:"error,omitempty"` // the measure failed to run
}

// Row is one line of a measure's table: secretfs beside its baseline.
type Row struct {
	Case     string  `json:"case"`
	Unit     string  `json:"unit"`
	Secretfs Stat    `json:"secretfs"`
	Baseline Stat    `json:"baseline"`
	BaseName string  `json:"baseline_name"`
	Ratio    float64 `json:"ratio"` // secretfs median / baseline median
	Target   string  `json:"target"`
	// Met is nil when the row has no target of its own.
	Met *bool `json:"met,omitempty"`
}

// Series is a named list of points for a plot.
type Series struct {
	Name string    `json:"name"`
	X    []float64 `json:"x"`
	Y    []float64 `json:"y"`
}

// row builds a Row with its ratio; check decides Met (nil check = no target).
func row(c, unit string, sfs, base Stat, baseName, target string, check func(sfs, base, ratio float64) bool) Row {
	r := Row{Case: c, Unit: unit, Secretfs: sfs, Baseline: base, BaseName: baseName, Target: target}
	r.Ratio = ratio(sfs.Median, base.Median)
	if check != nil {
		met := check(sfs.Median, base.Median, r.Ratio)
		r.Met = &met
	}
	return r
}

// ratioAtMost is a check for "≤ k× baseline".
func ratioAtMost(k float64) func(_, _, r float64) bool {
	return func(_, _, r float64) bool { return r <= k }
}

// jsonNum is x, or nil (JSON null) for NaN and infinities, which JSON
// cannot carry.
func jsonNum(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

// MarshalJSON writes undefined numbers as null.
func (s Stat) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Median *float64 `json:"median"`
		Min    *float64 `json:"min"`
		Max    *float64 `json:"max"`
		N      int      `json:"n"`
	}{jsonNum(s.Median), jsonNum(s.Min), jsonNum(s.Max), s.N})
}

// MarshalJSON writes an undefined ratio as null.
func (r Row) MarshalJSON() ([]byte, error) {
	type plain Row
	return json.Marshal(struct {
		plain
		Ratio *float64 `json:"ratio"`
	}{plain(r), jsonNum(r.Ratio)})
}
