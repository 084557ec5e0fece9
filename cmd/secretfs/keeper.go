package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/secretfs/secretfs/fusefs/keeper"
)

// keeperConfig is `secretfs keeper`'s flags.
type keeperConfig struct {
	Socket       string
	HungAfter    time.Duration
	KillHung     bool
	HandoverWait time.Duration
	LogFormat    string
}

// runKeeper holds the node's FUSE connections across restarts of
// `secretfs node` (which mounts through it with --keeper-socket). It takes
// over from a keeper already listening on the socket (an upgrade), and on
// SIGTERM waits up to --handover-wait for its successor before it exits,
// which unmounts what it still holds. Once it has handed over it idles
// until SIGTERM: exiting would make kubelet restart the container of the
// old pod, and the restarted keeper would take the mounts back.
func runKeeper(ctx context.Context, args []string, out io.Writer) error {
	var cfg keeperConfig
	fs := flag.NewFlagSet("keeper", flag.ContinueOnError)
	fs.StringVar(&cfg.Socket, "socket", "/var/run/secretfs/keeper.sock", "control socket: node servers mount through it, the next keeper takes over through it")
	fs.DurationVar(&cfg.HungAfter, "hung-after", 30*time.Second, "a server that leaves a request unanswered this long is dropped")
	fs.BoolVar(&cfg.KillHung, "kill-hung", true, "also SIGKILL a hung server when its PID is visible (shareProcessNamespace)")
	fs.DurationVar(&cfg.HandoverWait, "handover-wait", 60*time.Second, "on SIGTERM, how long to wait for the next keeper to take over")
	fs.StringVar(&cfg.LogFormat, "log-format", "text", "text or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger, err := newLogger(cfg.LogFormat, out)
	if err != nil {
		return err
	}
	kcfg := keeper.Config{Socket: cfg.Socket, HungAfter: cfg.HungAfter, KillHung: cfg.KillHung, Log: logger}
	k, err := keeper.Takeover(kcfg)
	if err == nil {
		logger.Info("took over from the running keeper", "socket", cfg.Socket, "mounts", len(k.Mounts()))
	} else if k, err = keeper.Start(kcfg); err != nil {
		return fmt.Errorf("starting the keeper: %w", err)
	}
	select {
	case <-k.Done():
		logger.Info("handed over to the next keeper; idle until stopped")
		<-ctx.Done()
	case <-ctx.Done():
		select {
		case <-k.Done():
		case <-time.After(cfg.HandoverWait):
			logger.Warn("no keeper took over: unmounting", "mounts", len(k.Mounts()))
		}
	}
	return k.Close()
}
