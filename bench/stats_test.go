package bench

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStatOf(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want Stat
	}{
		{"odd", []float64{3, 1, 2}, Stat{Median: 2, Min: 1, Max: 3, N: 3}},
		{"even interpolates", []float64{4, 1, 2, 3}, Stat{Median: 2.5, Min: 1, Max: 4, N: 4}},
		{"one", []float64{7}, Stat{Median: 7, Min: 7, Max: 7, N: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, statOf(tt.in)); diff != "" {
				t.Errorf("statOf(%v) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
	if s := statOf(nil); !math.IsNaN(s.Median) {
		t.Errorf("statOf(nil).Median = %v, want NaN", s.Median)
	}
}

func TestRowJudgesTarget(t *testing.T) {
	tests := []struct {
		name      string
		sfs, base float64
		check     func(_, _, r float64) bool
		wantRatio float64
		wantMet   *bool
	}{
		{"met", 1.4, 1, ratioAtMost(1.5), 1.4, ptr(true)},
		{"missed", 30, 2, ratioAtMost(1.5), 15, ptr(false)},
		{"no target", 3, 1, nil, 3, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := row("c", "µs", one(tt.sfs), one(tt.base), "b", "t", tt.check)
			got := struct {
				Ratio float64
				Met   *bool
			}{r.Ratio, r.Met}
			want := struct {
				Ratio float64
				Met   *bool
			}{tt.wantRatio, tt.wantMet}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
		})
	}
}

func ptr(b bool) *bool { return &b }
