package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// writeOutputs writes results.json, the plots and REPORT.md into dir.
func writeOutputs(dir string, res *Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := drawPlots(dir, res.Measures); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "REPORT.md"))
	if err != nil {
		return err
	}
	WriteReport(f, res)
	return f.Close()
}

// WriteReport renders res as Markdown: the machine, a summary of every
// judged row, then one section per measure.
func WriteReport(w io.Writer, res *Results) {
	fmt.Fprintf(w, "# secretfs benchmark report (%s mode)\n\n", res.Mode)
	fmt.Fprintf(w, "- machine: %s, %d cores, %s RAM\n- kernel: %s\n- Go: %s\n- run: %s, took %v\n\n",
		res.Machine.CPU, res.Machine.Cores, res.Machine.MemTotal, res.Machine.Kernel, res.Machine.GoVersion,
		res.Started.Format(time.RFC3339), res.Elapsed.Round(time.Second))
	fmt.Fprintf(w, "Every number is a median with its min–max spread over repeated runs (n = runs or samples); "+
		"ratio = secretfs ÷ baseline. Produced by `make bench` (`go run ./bench/cmd/secretfs-bench`).\n\n")
	writeSummary(w, res)
	for _, m := range res.Measures {
		writeMeasure(w, m)
	}
	if len(res.Profile) > 0 {
		fmt.Fprintf(w, "## Where the time goes: FUSE server CPU profile\n\n"+
			"`pprof top` of the secretfs process while a reader did warm open+read+close on the default-mode mount "+
			"(the rows above that miss their target). The reader's own time is in the kernel, waiting for these replies.\n\n```\n%s\n```\n",
			strings.Join(res.Profile, "\n"))
	}
}

func writeSummary(w io.Writer, res *Results) {
	fmt.Fprintf(w, "## Summary: targets from design.md\n\n| # | case | secretfs | baseline | ratio | target | met |\n|---|---|---|---|---|---|---|\n")
	var missed []string
	for _, m := range res.Measures {
		if m.Err != "" {
			fmt.Fprintf(w, "| %d | %s | **failed to run** | | | | ✗ |\n", m.ID, m.Title)
			missed = append(missed, fmt.Sprintf("%d (%s): failed to run", m.ID, m.Title))
			continue
		}
		for _, r := range m.Rows {
			if r.Met == nil {
				continue
			}
			fmt.Fprintf(w, "| %d | %s | %s %s | %s | %s | %s | %s |\n", m.ID, r.Case, num(r.Secretfs.Median), r.Unit,
				num(r.Baseline.Median), ratioText(r.Ratio), r.Target, metText(r.Met))
			if !*r.Met {
				missed = append(missed, fmt.Sprintf("%d: %s", m.ID, r.Case))
			}
		}
	}
	if len(missed) == 0 {
		fmt.Fprintf(w, "\nEvery target is met.\n\n")
		return
	}
	fmt.Fprintf(w, "\n**Not met (%d):**\n\n", len(missed))
	for _, s := range missed {
		fmt.Fprintf(w, "- %s\n", s)
	}
	fmt.Fprintln(w)
}

func writeMeasure(w io.Writer, m Measure) {
	fmt.Fprintf(w, "## %d. %s\n\n%s\n\n", m.ID, m.Title, m.Method)
	if m.Err != "" {
		fmt.Fprintf(w, "**This measure failed to run:** %s\n\n", m.Err)
	}
	if len(m.Rows) > 0 {
		fmt.Fprintf(w, "| case | unit | secretfs (min–max, n) | baseline | ratio | target | met |\n|---|---|---|---|---|---|---|\n")
		for _, r := range m.Rows {
			fmt.Fprintf(w, "| %s | %s | %s | %s: %s | %s | %s | %s |\n", r.Case, r.Unit, statText(r.Secretfs),
				r.BaseName, statText(r.Baseline), ratioText(r.Ratio), r.Target, metText(r.Met))
		}
		fmt.Fprintln(w)
	}
	for _, n := range m.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	if m.Plot != "" && m.Err == "" && len(m.Series) > 0 {
		fmt.Fprintf(w, "\n![%s](%s)\n\n", m.Title, m.Plot)
	}
}

func statText(s Stat) string {
	if s.N <= 1 {
		return num(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s, n=%d)", num(s.Median), num(s.Min), num(s.Max), s.N)
}

// num prints 3 significant digits, thousands as plain integers.
func num(x float64) string {
	switch {
	case math.IsNaN(x):
		return "n/a"
	case math.Abs(x) >= 1000 || x == math.Trunc(x):
		return fmt.Sprintf("%.0f", x)
	case math.Abs(x) >= 10:
		return fmt.Sprintf("%.1f", x)
	case math.Abs(x) >= 1:
		return fmt.Sprintf("%.2f", x)
	}
	return fmt.Sprintf("%.3f", x)
}

func ratioText(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "—"
	}
	return fmt.Sprintf("%.2f×", r)
}

func metText(met *bool) string {
	switch {
	case met == nil:
		return ""
	case *met:
		return "✓"
	}
	return "**✗**"
}
