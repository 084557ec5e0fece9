package bench

import (
	"math"
	"slices"
	"time"
)

// Stat is a median over repeated runs (or samples) with its spread.
type Stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

// statOf summarises xs; an empty xs gives NaN fields, which the report
// shows as "n/a" and the quick test rejects.
func statOf(xs []float64) Stat {
	if len(xs) == 0 {
		return Stat{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return Stat{Median: quantile(s, 0.5), Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// one is a Stat of a single exact number (a count or a model value).
func one(x float64) Stat { return Stat{Median: x, Min: x, Max: x, N: 1} }

// quantile of sorted xs by linear interpolation.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
}

// durationsMicros converts and sorts durations as microseconds.
func durationsMicros(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d) / float64(time.Microsecond)
	}
	slices.Sort(out)
	return out
}

// percentiles returns the 0th..100th percentile of sorted xs in steps of
// 1/(n-1), for distribution plots small enough to keep in the JSON.
func percentiles(sorted []float64, n int) []float64 {
	out := make([]float64, n)
	for i := range n {
		out[i] = quantile(sorted, float64(i)/float64(n-1))
	}
	return out
}

// ratio is a/b, NaN when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// statSorted is a sorted copy of xs.
func statSorted(xs []float64) []float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s
}
