package bench

import (
	"fmt"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// axes says how a measure's series are drawn.
type axes struct {
	x, y       string
	logX, logY bool
	bars       bool
	legendLeft bool
}

// plotAxes by measure ID; measures not listed get no plot.
var plotAxes = map[int]axes{
	1: {x: "latency (µs), 4 KiB open+read+close", y: "percentile", logX: true},
	2: {x: "first-read latency (ms)", y: "percentile"},
	3: {x: "objects in the volume (M)", y: "publish latency (ms)"},
	4: {x: "pods on the node (P)", y: "Key Vault GETs per TTL", logX: true, logY: true},
	5: {x: "rotation to reader (ms)", y: "percentile"},
	6: {x: "mounted volumes (N)", y: "node RSS (MiB)"},
	7: {y: "reads/s", bars: true},
	8: {x: "time (s)", y: "staleness served (s)"},
	9: {x: "nodes", y: "Key Vault GETs per 10 s per vault", logX: true, logY: true, legendLeft: true},
}

// drawPlots writes each measure's plot as SVG into dir.
func drawPlots(dir string, ms []Measure) error {
	for _, m := range ms {
		a, ok := plotAxes[m.ID]
		if !ok || m.Plot == "" || len(m.Series) == 0 || m.Err != "" {
			continue
		}
		p, err := newPlot(m, a)
		if err != nil {
			return fmt.Errorf("plot %d: %w", m.ID, err)
		}
		if err := p.Save(7*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, m.Plot)); err != nil {
			return fmt.Errorf("saving %s: %w", m.Plot, err)
		}
	}
	return nil
}

func newPlot(m Measure, a axes) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%d. %s", m.ID, m.Title)
	p.X.Label.Text, p.Y.Label.Text = a.x, a.y
	p.Legend.Top, p.Legend.Left = true, a.legendLeft
	if a.bars {
		return p, addBars(p, m.Series)
	}
	if a.logX {
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{}
	}
	if a.logY {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{}
	}
	var args []any
	dense := false
	for _, s := range m.Series {
		args = append(args, s.Name, points(s, a))
		dense = dense || len(s.X) > 40
	}
	if dense { // markers would hide the line
		return p, plotutil.AddLines(p, args...)
	}
	return p, plotutil.AddLinePoints(p, args...)
}

// points are s's points, without those a log axis cannot show.
func points(s Series, a axes) plotter.XYs {
	var xys plotter.XYs
	for i := range min(len(s.X), len(s.Y)) {
		if (a.logX && s.X[i] <= 0) || (a.logY && s.Y[i] <= 0) {
			continue
		}
		xys = append(xys, plotter.XY{X: s.X[i], Y: s.Y[i]})
	}
	return xys
}

// addBars draws the first Y of each series as one bar.
func addBars(p *plot.Plot, ss []Series) error {
	w := vg.Points(30)
	var names []string
	for i, s := range ss {
		if len(s.Y) == 0 {
			continue
		}
		b, err := plotter.NewBarChart(plotter.Values{s.Y[0]}, w)
		if err != nil {
			return err
		}
		b.Color = plotutil.Color(i)
		b.Offset = vg.Length(i-len(ss)/2) * w
		p.Add(b)
		p.Legend.Add(s.Name, b)
		names = append(names, s.Name)
	}
	p.NominalX("")
	return nil
}
