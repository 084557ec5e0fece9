package volume_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/secretfs/secretfs/cache"
	"github.com/secretfs/secretfs/csi"
	"github.com/secretfs/secretfs/vault"
	"github.com/secretfs/secretfs/vault/emulator"
	"github.com/secretfs/secretfs/vault/emulator/emulatortest"
	"github.com/secretfs/secretfs/volume"
)

// These tests run every real part: the Key Vault emulator over TLS driven
// by the real Azure SDK clients, the node cache, and real FUSE and tmpfs
// mounts (as root, as CI runs).

const (
	vaultName = "kv1"
	clientA   = "11111111-0000-0000-0000-00000000000a"
	clientB   = "11111111-0000-0000-0000-00000000000b"
)

type fixture struct {
	kv      *emulator.Server
	secretA string
	secretB string
	cache   *cache.Cache
	node    *volume.Node
}

func newFixture(t *testing.T, ttl time.Duration) *fixture {
	t.Helper()
	f := &fixture{kv: emulatortest.Start(t), secretA: "secret-of-a", secretB: "secret-of-b"}
	f.kv.AddServicePrincipal(clientA, f.secretA)
	f.kv.AddServicePrincipal(clientB, f.secretB)
	f.kv.Grant(clientA, vaultName, emulator.Read)
	f.kv.SetSecret(vaultName, "db-password", "v1-password", "")
	f.kv.SetSecret(vaultName, "api-token", "v1-token", "")
	f.cache = cache.New(volume.CacheOptions(ttl, 0))
	t.Cleanup(f.cache.Close)
	tr := f.kv.HTTPClient()
	f.node = volume.NewNode(f.cache, vault.NewCredentials(vault.CredentialOptions{Transport: tr}), vault.ClientOptions{Transport: tr})
	t.Cleanup(f.node.Close)
	return f
}

func newNodeWithCache(t *testing.T, c *cache.Cache, tr *http.Client) *volume.Node {
	t.Helper()
	n := volume.NewNode(c, vault.NewCredentials(vault.CredentialOptions{Transport: tr}), vault.ClientOptions{Transport: tr})
	t.Cleanup(n.Close)
	return n
}

func (f *fixture) params(t *testing.T) *vault.Params {
	t.Helper()
	p, err := vault.ParseParameters(context.Background(), f.paramMap(), f.parseOptions())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// parseOptions allows the emulator's cloud environment file.
func (f *fixture) parseOptions() vault.ParseOptions {
	return vault.ParseOptions{CloudEnvDir: filepath.Dir(f.kv.CloudEnvFile())}
}

// paramMap is the SecretProviderClass's spec.parameters.
func (f *fixture) paramMap() map[string]string {
	return map[string]string{
		"keyvaultName":     vaultName,
		"tenantID":         f.kv.TenantID(),
		"cloudName":        "AzureStackCloud",
		"cloudEnvFileName": f.kv.CloudEnvFile(),
		"objects": `array:
  - |
    objectName: db-password
    objectType: secret
  - |
    objectName: api-token
    objectType: secret
    objectAlias: token
    filePermission: "0600"
`,
	}
}

func (f *fixture) request(t *testing.T, target, clientID, secret string) csi.MountRequest {
	return csi.MountRequest{
		TargetPath: target, VolumeID: "vol-" + filepath.Base(target), Class: "default/spc",
		Params: f.params(t), Creds: vault.PodCredentials{ClientID: clientID, ClientSecret: secret},
	}
}

func newManager(t *testing.T, f *fixture, backend string) *volume.Manager {
	t.Helper()
	b, err := volume.NewBackend(backend, volume.FuseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return volume.NewManager(f.node, b)
}

func mustMount(t *testing.T, m *volume.Manager, r csi.MountRequest) {
	t.Helper()
	if err := m.Mount(context.Background(), r); err != nil {
		t.Fatalf("Mount(%s): %v", r.TargetPath, err)
	}
	t.Cleanup(func() {
		if err := m.Unmount(context.Background(), r.TargetPath); err != nil {
			t.Errorf("Unmount(%s): %v", r.TargetPath, err)
		}
	})
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBackendsShowContentModesAndRotation(t *testing.T) {
	for _, backend := range []string{"fuse", "files"} {
		t.Run(backend, func(t *testing.T) {
			f := newFixture(t, 300*time.Millisecond)
			m := newManager(t, f, backend)
			target := filepath.Join(t.TempDir(), "mnt")
			mustMount(t, m, f.request(t, target, clientA, f.secretA))

			if got := readFile(t, filepath.Join(target, "db-password")); got != "v1-password" {
				t.Errorf("db-password = %q, want v1-password", got)
			}
			st, err := os.Stat(filepath.Join(target, "token"))
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("token mode = %v, want 0600", st.Mode().Perm())
			}
			f.kv.SetSecret(vaultName, "db-password", "v2-password-longer", "")
			eventually(t, 5*time.Second, "rotation visible", func() bool {
				return readFile(t, filepath.Join(target, "db-password")) == "v2-password-longer"
			})
		})
	}
}

func TestManyPodsOneIdentityShareOneFetchPerObject(t *testing.T) {
	f := newFixture(t, time.Minute)
	m := newManager(t, f, "fuse")
	f.kv.ResetCounts()
	const pods = 20
	var wg sync.WaitGroup
	errs := make(chan error, pods)
	dir := t.TempDir()
	for i := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := f.request(t, filepath.Join(dir, fmt.Sprintf("pod%d", i)), clientA, f.secretA)
			errs <- m.Mount(context.Background(), r)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range pods {
		target := filepath.Join(dir, fmt.Sprintf("pod%d", i))
		t.Cleanup(func() { m.Unmount(context.Background(), target) })
		if got := readFile(t, filepath.Join(target, "token")); got != "v1-token" {
			t.Fatalf("pod%d token = %q", i, got)
		}
	}
	if got := f.kv.Count("GetSecret"); got != 2 {
		t.Errorf("GetSecret requests for %d pods × 2 objects = %d, want 2 (one per object per node)", pods, got)
	}
	t.Logf("Key Vault requests for %d pods: %v", pods, f.kv.Counts())
}

func TestRepublishCostsNoKeyVaultCall(t *testing.T) {
	f := newFixture(t, time.Minute)
	m := newManager(t, f, "fuse")
	target := filepath.Join(t.TempDir(), "mnt")
	r := f.request(t, target, clientA, f.secretA)
	mustMount(t, m, r)
	before := f.kv.Count("GetSecret")
	for range 3 {
		if err := m.Mount(context.Background(), r); err != nil {
			t.Fatalf("republish: %v", err)
		}
	}
	if got := f.kv.Count("GetSecret") - before; got != 0 {
		t.Errorf("republish made %d GetSecret calls, want 0 while the cache is fresh", got)
	}
}

func TestWrongSecretNeverReadsCachedData(t *testing.T) {
	f := newFixture(t, time.Minute)
	m := newManager(t, f, "fuse")
	dir := t.TempDir()
	mustMount(t, m, f.request(t, filepath.Join(dir, "a"), clientA, f.secretA))

	target := filepath.Join(dir, "intruder")
	err := m.Mount(context.Background(), f.request(t, target, clientA, "not-the-secret"))
	if !errors.Is(err, vault.ErrAccessDenied) {
		t.Fatalf("Mount with a wrong secret: err = %v, want ErrAccessDenied", err)
	}
	if bytes.Contains([]byte(err.Error()), []byte("not-the-secret")) {
		t.Errorf("error quotes the client secret: %v", err)
	}
	if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed mount left %s behind (stat err %v)", target, err)
	}
}

func TestOtherIdentityIsCheckedByKeyVaultNotServedFromCache(t *testing.T) {
	f := newFixture(t, time.Minute)
	m := newManager(t, f, "fuse")
	dir := t.TempDir()
	mustMount(t, m, f.request(t, filepath.Join(dir, "a"), clientA, f.secretA))
	before := f.kv.Count("GetSecret")

	// client B authenticates fine but holds no grant on the vault: its
	// request must reach Key Vault and be refused there.
	target := filepath.Join(dir, "b")
	err := m.Mount(context.Background(), f.request(t, target, clientB, f.secretB))
	if !errors.Is(err, vault.ErrAccessDenied) {
		t.Fatalf("Mount as an identity without access: err = %v, want ErrAccessDenied", err)
	}
	if f.kv.Count("GetSecret") == before {
		t.Errorf("identity B was answered without asking Key Vault: A's cached data was shared")
	}
	if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed mount left %s behind", target)
	}
}

func TestUnmountCleansTargetAndIsIdempotent(t *testing.T) {
	f := newFixture(t, time.Minute)
	m := newManager(t, f, "fuse")
	target := filepath.Join(t.TempDir(), "mnt")
	if err := m.Mount(context.Background(), f.request(t, target, clientA, f.secretA)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := m.Unmount(context.Background(), target); err != nil {
			t.Fatalf("Unmount: %v", err)
		}
	}
	if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("target still there after unmount (err %v)", err)
	}
}

func TestRevokedAccessEndsInEACCES(t *testing.T) {
	const ttl = 200 * time.Millisecond
	f := newFixture(t, ttl)
	m := newManager(t, f, "fuse")
	target := filepath.Join(t.TempDir(), "mnt")
	mustMount(t, m, f.request(t, target, clientA, f.secretA))
	file := filepath.Join(target, "db-password")
	if got := readFile(t, file); got != "v1-password" {
		t.Fatalf("db-password = %q", got)
	}
	f.kv.Revoke(clientA, vaultName)
	revoked := time.Now()
	eventually(t, 20*time.Second, "reads fail with EACCES after the grace", func() bool {
		_, err := os.ReadFile(file)
		return errors.Is(err, os.ErrPermission)
	})
	if d := time.Since(revoked); d < ttl {
		t.Errorf("EACCES after %v: the last good value must be served for the grace (one TTL, %v) first", d, ttl)
	}
	t.Logf("reads failed with EACCES %v after the revocation (TTL and grace %v)", time.Since(revoked).Round(time.Millisecond), ttl)
}
