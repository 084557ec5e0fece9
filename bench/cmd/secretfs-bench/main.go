// Command secretfs-bench runs the secretfs benchmark harness (package
// bench): `make bench` runs it in full mode, `make bench-quick` with -quick.
// It re-executes itself as reader and node-service children.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/secretfs/secretfs/bench"
	"github.com/secretfs/secretfs/fusefs"
)

// config is the command's flags.
type config struct {
	quick bool
	out   string
	only  string
}

func main() {
	fusefs.RaiseProcs() // as secretfs itself runs: see fusefs.MinProcs
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "secretfs-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if child, err := bench.RunChild(ctx, stdin, stdout); child {
		return err
	}
	var cfg config
	fs := flag.NewFlagSet("secretfs-bench", flag.ContinueOnError)
	fs.BoolVar(&cfg.quick, "quick", false, "quick mode (< 2 min): fewer runs, sizes and seconds; proves the harness works")
	fs.StringVar(&cfg.out, "out", "bench/results", "directory for REPORT.md, results.json and the SVG plots")
	fs.StringVar(&cfg.only, "only", "", "comma-separated measure numbers to run (1-9), for development")
	if err := fs.Parse(args); err != nil {
		return err
	}
	only, err := parseOnly(cfg.only)
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }
	res, err := bench.Run(ctx, bench.Config{Quick: cfg.quick, OutDir: cfg.out, Only: only, Log: logf})
	if err != nil {
		return err
	}
	bench.WriteReport(stdout, res)
	return nil
}

func parseOnly(s string) ([]int, error) {
	var ids []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		id, err := strconv.Atoi(f)
		if err != nil || id < 1 || id > 9 {
			return nil, fmt.Errorf("-only %q: want measure numbers 1 to 9", s)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
