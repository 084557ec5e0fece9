package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/secretfs/secretfs/vault/emulator"
)

// demoConfig is `secretfs demo`'s flags.
type demoConfig struct {
	Target  string
	TTL     time.Duration
	Rotate  time.Duration
	Backend string
}

func runDemo(ctx context.Context, args []string, out io.Writer) error {
	var cfg demoConfig
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.StringVar(&cfg.Target, "target", "/tmp/secretfs-demo", "directory to mount the demo volume at")
	fs.DurationVar(&cfg.TTL, "ttl", 5*time.Second, "cache TTL")
	fs.DurationVar(&cfg.Rotate, "rotate", 10*time.Second, "how often the demo sets a new version of db-password")
	fs.StringVar(&cfg.Backend, "backend", "auto", "auto, fuse or files")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "secretfs-demo-emulator-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s, err := emulator.Start(emulator.Options{Dir: dir})
	if err != nil {
		return err
	}
	defer s.Close()
	seed, err := seedDemo(s, dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, demoIntro, s.Addr(), seed.spc, cfg.Target, cfg.Target, cfg.Target, cfg.Target, cfg.Rotate, cfg.TTL)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return rotate(gctx, s, cfg.Rotate, out) })
	g.Go(func() error {
		return mountUntilDone(gctx, mountConfig{
			SPC: seed.spc, Secrets: seed.secrets, Target: cfg.Target, TTL: cfg.TTL, Backend: cfg.Backend,
			CAFile: s.CAFile(), Resolve: resolveFlag{"test": s.Addr()}, CloudEnvDir: filepath.Dir(s.CloudEnvFile()),
		}, out)
	})
	err = g.Wait()
	if ctx.Err() != nil && err == context.Canceled {
		return nil
	}
	return err
}

const demoIntro = `secretfs demo: Key Vault emulator on %s, SecretProviderClass %s
Mounting at %s. In another shell try:
  ls -l %s
  cat %s/db-password
  watch -n1 cat %s/db-password      # db-password rotates every %s; files follow within the TTL (%s)
Ctrl-C unmounts and exits.
`

// rotate sets a new version of the demo secret every interval until ctx ends.
func rotate(ctx context.Context, s *emulator.Server, every time.Duration, out io.Writer) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for n := 2; ; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			version := s.SetSecret(demoVault, "db-password", fmt.Sprintf("demo-password-%d-%s", n, rand.Text()[:8]), "")
			fmt.Fprintf(out, "%s  rotated db-password to version %s\n", time.Now().Format(time.TimeOnly), version)
		}
	}
}

const demoVault = "demo"

type demoSeed struct{ spc, secrets string }

// seedDemo creates a client, grants it the demo vault, creates a secret, a
// certificate and a key, and writes the SecretProviderClass and the
// nodePublishSecretRef-style credentials file that mount them.
func seedDemo(s *emulator.Server, dir string) (demoSeed, error) {
	const clientID = "00000000-0000-0000-0000-00000000d3e0"
	clientSecret := rand.Text()
	s.AddServicePrincipal(clientID, clientSecret)
	s.Grant(clientID, demoVault, emulator.Read)
	s.SetSecret(demoVault, "db-password", "demo-password-1", "")
	if _, err := s.CreateSelfSignedCertificate(demoVault, "web-tls", "CN=demo.example", "application/x-pem-file"); err != nil {
		return demoSeed{}, err
	}
	s.CreateKey(demoVault, "signing-key", emulator.KeyECP256)
	seed := demoSeed{spc: filepath.Join(dir, "spc.yaml"), secrets: filepath.Join(dir, "secrets.yaml")}
	spc := fmt.Sprintf(demoSPC, demoVault, s.TenantID(), s.CloudEnvFile())
	if err := os.WriteFile(seed.spc, []byte(spc), 0o600); err != nil {
		return demoSeed{}, err
	}
	creds := fmt.Sprintf("clientid: %s\nclientsecret: %s\n", clientID, clientSecret)
	return seed, os.WriteFile(seed.secrets, []byte(creds), 0o600)
}

const demoSPC = `apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClass
metadata:
  name: demo
  namespace: default
spec:
  provider: azure
  parameters:
    keyvaultName: %s
    tenantID: %s
    cloudName: AzureStackCloud
    cloudEnvFileName: %s
    objects: |
      array:
        - |
          objectName: db-password
          objectType: secret
        - |
          objectName: db-password
          objectType: secret
          objectAlias: db-password-history
          objectVersionHistory: 3
        - |
          objectName: web-tls
          objectType: cert
          objectAlias: web-tls.crt
        - |
          objectName: web-tls
          objectType: secret
          objectAlias: web-tls.pem
        - |
          objectName: web-tls
          objectType: secret
          objectAlias: web-tls.pfx
          objectFormat: pfx
        - |
          objectName: signing-key
          objectType: key
          objectAlias: signing-key.pub.pem
          filePermission: "0640"
`
