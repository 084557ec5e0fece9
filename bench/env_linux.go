//go:build linux

package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/secretfs/secretfs/cache"
	"github.com/secretfs/secretfs/csi"
	"github.com/secretfs/secretfs/vault"
	"github.com/secretfs/secretfs/vault/emulator"
	"github.com/secretfs/secretfs/volume"
)

// benchVault is the one vault every measure reads from.
const benchVault = "benchkv"

// env is the emulator every measure of a run shares, and a scratch dir.
type env struct {
	kv  *emulator.Server
	dir string

	mu  sync.Mutex
	ids map[int]bool // identities registered; guarded by mu
}

func newEnv(dir string) (*env, error) {
	kv, err := emulator.Start(emulator.Options{Dir: filepath.Join(dir, "kv")})
	if err != nil {
		return nil, fmt.Errorf("starting the Key Vault emulator: %w", err)
	}
	return &env{kv: kv, dir: dir, ids: map[int]bool{}}, nil
}

func (e *env) close() error { return e.kv.Close() }

// identity registers service principal i with read access to the vault and
// returns its pod credentials. The secret is a benchmark constant.
func (e *env) identity(i int) vault.PodCredentials {
	pc := vault.PodCredentials{
		ClientID:     fmt.Sprintf("22222222-0000-4000-8000-%012d", i),
		ClientSecret: fmt.Sprintf("bench-secret-%d", i),
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.ids[i] {
		e.kv.AddServicePrincipal(pc.ClientID, pc.ClientSecret)
		e.kv.Grant(pc.ClientID, benchVault, emulator.Read)
		e.ids[i] = true
	}
	return pc
}

// setSecrets stores value under every name and returns the names.
func (e *env) setSecrets(prefix string, n int, value string) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%d", prefix, i)
		e.kv.SetSecret(benchVault, names[i], value, "")
	}
	return names
}

// paramMap is a SecretProviderClass's parameters for secrets names, on the
// emulator's custom cloud, as a user on a custom cloud writes them.
func (e *env) paramMap(names []string) map[string]string {
	var b strings.Builder
	b.WriteString("array:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  - |\n    objectName: %s\n    objectType: secret\n", n)
	}
	return map[string]string{
		"keyvaultName": benchVault, "tenantID": e.kv.TenantID(),
		"cloudName": "AzureStackCloud", "cloudEnvFileName": e.kv.CloudEnvFile(),
		"objects": b.String(),
	}
}

// cloudEnvDir is the directory of the emulator's cloud environment file,
// the one the node allows (--cloud-env-dir).
func (e *env) cloudEnvDir() string { return filepath.Dir(e.kv.CloudEnvFile()) }

func (e *env) params(names []string) (*vault.Params, error) {
	p, err := vault.ParseParameters(context.Background(), e.paramMap(names), vault.ParseOptions{CloudEnvDir: e.cloudEnvDir()})
	if err != nil {
		return nil, fmt.Errorf("bench parameters: %w", err)
	}
	return p, nil
}

// dataPlaneGets counts object reads at the emulator (GET of a secret, key or
// certificate, and version lists), not tokens or challenges.
func (e *env) dataPlaneGets() int {
	n := 0
	for op, c := range e.kv.Counts() {
		if strings.HasPrefix(op, "Get") || strings.HasPrefix(op, "List") {
			n += c
		}
	}
	return n
}

// node is one secretfs node in this process: cache, volume node, manager.
type node struct {
	cache *cache.Cache
	vn    *volume.Node
	mgr   *volume.Manager

	mu      sync.Mutex
	targets []string // mounted by mount; guarded by mu
}

// newNode builds a node on e's emulator with backend "fuse" or "files".
func (e *env) newNode(ttl time.Duration, backend string, fo volume.FuseOptions) (*node, error) {
	return newNode(ttl, backend, fo, e.kv.HTTPClient())
}

// newNode builds a node whose Key Vault and Entra ID clients use tr.
func newNode(ttl time.Duration, backend string, fo volume.FuseOptions, tr *http.Client) (*node, error) {
	b, err := volume.NewBackend(backend, fo)
	if err != nil {
		return nil, err
	}
	c := cache.New(cache.Options{TTL: ttl, RetryAfter: vault.RetryAfter})
	vn := volume.NewNode(c, vault.NewCredentials(vault.CredentialOptions{Transport: tr}), vault.ClientOptions{Transport: tr})
	return &node{cache: c, vn: vn, mgr: volume.NewManager(vn, b)}, nil
}

// mount mounts secrets names at target for pc.
func (n *node) mount(ctx context.Context, e *env, target string, names []string, pc vault.PodCredentials) error {
	p, err := e.params(names)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil { // kubelet creates the parent
		return err
	}
	r := csi.MountRequest{TargetPath: target, VolumeID: "vol-" + filepath.Base(target), Class: "bench/spc", Params: p, Creds: pc}
	if err := n.mgr.Mount(ctx, r); err != nil {
		return fmt.Errorf("mount %s: %w", target, err)
	}
	n.mu.Lock()
	n.targets = append(n.targets, target)
	n.mu.Unlock()
	return nil
}

// close unmounts everything mount mounted, then stops the node and cache.
func (n *node) close() error {
	n.mu.Lock()
	targets := n.targets
	n.targets = nil
	n.mu.Unlock()
	var errs []error
	for _, t := range targets {
		errs = append(errs, n.mgr.Unmount(context.Background(), t))
	}
	n.mgr.Close()
	n.cache.Close()
	return errors.Join(errs...)
}

// mkdirs creates dir and returns it.
func mkdirs(dir ...string) (string, error) {
	d := filepath.Join(dir...)
	return d, os.MkdirAll(d, 0o755)
}
