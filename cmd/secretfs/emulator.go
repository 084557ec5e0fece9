package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/secretfs/secretfs/vault/emulator"
)

// emulatorConfig is `secretfs emulator`'s flags.
type emulatorConfig struct {
	Listen string // address to listen on
	Dir    string // where ca.pem and cloud.json go
}

func runEmulator(ctx context.Context, args []string, out io.Writer) error {
	var cfg emulatorConfig
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8443", "address to listen on")
	fs.StringVar(&cfg.Dir, "dir", "", "directory for ca.pem and cloud.json (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.Dir == "" {
		return fmt.Errorf("--dir is required: ca.pem and cloud.json are written there")
	}
	s, err := emulator.Start(emulator.Options{Addr: cfg.Listen, Dir: cfg.Dir})
	if err != nil {
		return err
	}
	defer s.Close()
	seed, err := seedDemo(s, cfg.Dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, `Key Vault + Entra ID emulator listening on %s
  tenant:          %s
  vault URL form:  %s
  CA certificate:  %s
  cloud env file:  %s  (SecretProviderClass: cloudName: AzureStackCloud, cloudEnvFileName: this file)
It holds the demo vault %q; mount it with:
  secretfs mount --spc %s --secrets %s --target DIR \
    --ca-file %s --resolve test=%s --cloud-env-dir %s
Ctrl-C stops it.
`, s.Addr(), s.TenantID(), s.VaultURL("<name>"), s.CAFile(), s.CloudEnvFile(), demoVault, seed.spc, seed.secrets, s.CAFile(), s.Addr(),
		filepath.Dir(s.CloudEnvFile()))
	<-ctx.Done()
	return nil
}
