package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/secretfs/secretfs/cache"
	"github.com/secretfs/secretfs/kube"
	"github.com/secretfs/secretfs/vault"
	"github.com/secretfs/secretfs/volume"
)

// mountConfig is `secretfs mount`'s flags.
type mountConfig struct {
	SPC     string        // SecretProviderClass YAML file
	Target  string        // directory to mount at
	Secrets string        // YAML map like a nodePublishSecretRef Secret's data
	TTL     time.Duration // cache TTL: how soon a new version is seen
	Backend string        // auto, fuse, files
	CAFile  string
	Resolve resolveFlag
	// CloudEnvDir is the only directory cloudEnvFileName may name a file in.
	CloudEnvDir string
}

func runMount(ctx context.Context, args []string, out io.Writer) error {
	cfg := mountConfig{Resolve: resolveFlag{}}
	fs := flag.NewFlagSet("mount", flag.ContinueOnError)
	fs.StringVar(&cfg.SPC, "spc", "", "SecretProviderClass YAML file (required)")
	fs.StringVar(&cfg.Target, "target", "", "directory to mount at (required)")
	fs.StringVar(&cfg.Secrets, "secrets", "", "YAML map of clientid/clientsecret, as a nodePublishSecretRef Secret holds")
	fs.DurationVar(&cfg.TTL, "ttl", 2*time.Minute, "cache TTL: a new Key Vault version is seen within it")
	fs.StringVar(&cfg.Backend, "backend", "auto", "auto, fuse or files")
	fs.StringVar(&cfg.CAFile, "ca-file", "", "extra trusted CA certificates (PEM), e.g. the emulator's ca.pem")
	fs.StringVar(&cfg.CloudEnvDir, "cloud-env-dir", "", cloudEnvDirUsage)
	fs.Var(cfg.Resolve, "resolve", "SUFFIX=HOST:PORT: dial hosts ending in SUFFIX at HOST:PORT (repeatable; for the emulator)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.SPC == "" || cfg.Target == "" {
		return fmt.Errorf("--spc and --target are required")
	}
	if err := checkCloudEnvDir(cfg.CloudEnvDir); err != nil {
		return err
	}
	return mountUntilDone(ctx, cfg, out)
}

// mountUntilDone validates everything, fetches every object, mounts, and
// unmounts when ctx ends. Nothing touches the target before validation and
// the fetches succeed. Every step before the mount takes ctx, so a signal
// ends the command at any stage (main cancels ctx on SIGINT and SIGTERM).
func mountUntilDone(ctx context.Context, cfg mountConfig, out io.Writer) error {
	params, pc, err := readMountInputs(ctx, cfg)
	if err != nil {
		return err
	}
	tr, err := vault.NewTransport(cfg.CAFile, cfg.Resolve)
	if err != nil {
		return err
	}
	c := cache.New(volume.CacheOptions(cfg.TTL, 0))
	defer c.Close()
	node := volume.NewNode(c, vault.NewCredentials(vault.CredentialOptions{Transport: tr}), vault.ClientOptions{Transport: tr})
	defer node.Close()
	backend, err := volume.NewBackend(cfg.Backend, volume.FuseOptions{})
	if err != nil {
		return err
	}
	vol, err := node.Open(ctx, params, pc)
	if err != nil {
		return err
	}
	defer vol.Close()
	m, err := volume.Show(ctx, backend, cfg.Target, vol)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "mounted %d files from vault %s at %s (%s backend); Ctrl-C to unmount\n",
		len(vol.Files()), params.VaultName, cfg.Target, backend.Name())
	<-ctx.Done()
	slog.Info("unmounting", "target", cfg.Target)
	return m.Unmount()
}

func readMountInputs(ctx context.Context, cfg mountConfig) (*vault.Params, vault.PodCredentials, error) {
	spc, err := readClass(ctx, cfg.SPC)
	if err != nil {
		return nil, vault.PodCredentials{}, err
	}
	params, err := vault.ParseParameters(ctx, spc.Spec.Parameters, vault.ParseOptions{CloudEnvDir: cfg.CloudEnvDir})
	if err != nil {
		return nil, vault.PodCredentials{}, fmt.Errorf("%s: %w", cfg.SPC, err)
	}
	pc, err := readSecrets(ctx, cfg.Secrets)
	return params, pc, err
}

// readClass reads a SecretProviderClass manifest, the file a user applies.
func readClass(ctx context.Context, path string) (*kube.SecretProviderClass, error) {
	b, err := readInput(ctx, path)
	if err != nil {
		return nil, err
	}
	var spc kube.SecretProviderClass
	if err := yaml.UnmarshalStrict(b, &spc); err != nil {
		return nil, fmt.Errorf("%s is not a SecretProviderClass: %w", path, err)
	}
	if spc.Kind != "SecretProviderClass" {
		return nil, fmt.Errorf("%s: kind is %q, want SecretProviderClass", path, spc.Kind)
	}
	if spc.Spec.Provider != "azure" {
		return nil, fmt.Errorf("%s: spec.provider is %q: secretfs serves the azure provider", path, spc.Spec.Provider)
	}
	return &spc, nil
}

// readSecrets reads what a nodePublishSecretRef Secret would hold. The error
// never quotes the file's content.
func readSecrets(ctx context.Context, path string) (vault.PodCredentials, error) {
	if path == "" {
		return vault.PodCredentials{}, nil
	}
	b, err := readInput(ctx, path)
	if err != nil {
		return vault.PodCredentials{}, err
	}
	var m map[string]string
	if err := yaml.Unmarshal(b, &m); err != nil {
		return vault.PodCredentials{}, fmt.Errorf("%s: want a YAML map with clientid and clientsecret", path)
	}
	return vault.PodCredentials{ClientID: m["clientid"], ClientSecret: m["clientsecret"]}, nil
}
