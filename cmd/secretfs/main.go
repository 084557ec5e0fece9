// Command secretfs mounts Azure Key Vault secrets, keys and certificates as
// files: as a CSI node plugin for Kubernetes (`secretfs node`), by hand
// outside Kubernetes (`secretfs mount`), or against the built-in Key Vault
// emulator (`secretfs demo`, `secretfs emulator`).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/secretfs/secretfs/fusefs"
)

const usage = `usage: secretfs <command> [flags]

commands:
  node      run the CSI node plugin kubelet talks to
  mount     mount the objects of a SecretProviderClass file at a directory
  emulator  run the Key Vault + Entra ID emulator
  demo      run the emulator, mount a demo volume, rotate a secret
  keeper    hold FUSE connections across restarts and upgrades of node

Run 'secretfs <command> -h' for a command's flags.
`

func main() {
	fusefs.RaiseProcs() // FUSE readers block in read(2): see fusefs.MinProcs
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal cancels ctx and every command winds down from
	// wherever it is; a second one kills the process (the default action),
	// should something still not return.
	context.AfterFunc(ctx, stop)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "secretfs:", err)
		os.Exit(1)
	}
}

// run dispatches to a subcommand; each parses its flags into a config struct
// and runs until ctx ends.
func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(out, usage)
		return flag.ErrHelp
	}
	commands := map[string]func(context.Context, []string, io.Writer) error{
		"node":     runNode,
		"mount":    runMount,
		"emulator": runEmulator,
		"demo":     runDemo,
		"keeper":   runKeeper,
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprint(out, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
	return cmd(ctx, args[1:], out)
}
