package volume_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/secretfs/secretfs/cache"
	"github.com/secretfs/secretfs/csi"
	"github.com/secretfs/secretfs/vault"
	"github.com/secretfs/secretfs/volume"
)

// inFlight counts Key Vault secret requests running at once through it.
type inFlight struct {
	next policy.Transporter

	mu       sync.Mutex
	cur, max int // guarded by mu
}

func (c *inFlight) Do(req *http.Request) (*http.Response, error) {
	if !strings.Contains(req.URL.Path, "/secrets/") {
		return c.next.Do(req)
	}
	c.mu.Lock()
	c.cur++
	c.max = max(c.max, c.cur)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.cur--
		c.mu.Unlock()
	}()
	return c.next.Do(req)
}

func (c *inFlight) peak() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.max
}

// classOf returns parameters naming secrets prefix-0 .. prefix-(n-1),
// creating them in the emulator.
func (f *fixture) classOf(t *testing.T, prefix string, n int) *vault.Params {
	t.Helper()
	var objs strings.Builder
	objs.WriteString("array:\n")
	for i := range n {
		name := fmt.Sprintf("%s-%d", prefix, i)
		f.kv.SetSecret(vaultName, name, "value-of-"+name, "")
		fmt.Fprintf(&objs, "  - |\n    objectName: %s\n    objectType: secret\n", name)
	}
	p, err := vault.ParseParameters(context.Background(), map[string]string{
		"keyvaultName": vaultName, "tenantID": f.kv.TenantID(),
		"cloudName": "AzureStackCloud", "cloudEnvFileName": f.kv.CloudEnvFile(),
		"objects": objs.String(),
	}, f.parseOptions())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPrefetchConcurrencyIsBounded: a publish fetches at most
// MaxPrefetch objects at once, and all publishes of a node together at most
// MaxNodePrefetch (a 3,000-object class used to start 3,000 fetches at
// once, peaking at 212 MB). A class of up to MaxPrefetch objects is still
// fetched in one round.
func TestPrefetchConcurrencyIsBounded(t *testing.T) {
	f := newFixture(t, time.Hour)
	counter := &inFlight{next: f.kv.HTTPClient()}
	c := cache.New(volume.CacheOptions(time.Hour, 0))
	t.Cleanup(c.Close)
	node := volume.NewNode(c, vault.NewCredentials(vault.CredentialOptions{Transport: f.kv.HTTPClient()}), vault.ClientOptions{Transport: counter})
	t.Cleanup(node.Close)
	m := volume.NewManager(node, mustBackend(t, "files"))
	f.kv.SetLatency(50 * time.Millisecond)

	const classes, objects = 4, 2 * volume.MaxPrefetch
	var wg sync.WaitGroup
	errs := make([]error, classes)
	for i := range classes {
		target := filepath.Join(t.TempDir(), "mnt")
		r := csi.MountRequest{
			TargetPath: target, VolumeID: fmt.Sprint("vol-", i), Class: "default/spc",
			Params: f.classOf(t, fmt.Sprint("class", i), objects),
			Creds:  vault.PodCredentials{ClientID: clientA, ClientSecret: f.secretA},
		}
		wg.Go(func() { errs[i] = m.Mount(context.Background(), r) })
		t.Cleanup(func() { m.Unmount(context.Background(), target) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	if got := counter.peak(); got > volume.MaxNodePrefetch {
		t.Errorf("peak secret requests in flight = %d, want ≤ %d (node-wide bound)", got, volume.MaxNodePrefetch)
	}

	one := &inFlight{next: f.kv.HTTPClient()}
	node2 := volume.NewNode(cache.New(volume.CacheOptions(time.Hour, 0)), vault.NewCredentials(vault.CredentialOptions{Transport: f.kv.HTTPClient()}), vault.ClientOptions{Transport: one})
	t.Cleanup(node2.Close)
	t.Cleanup(node2.Cache().Close)
	vol, err := node2.Open(context.Background(), f.classOf(t, "single", objects), vault.PodCredentials{ClientID: clientA, ClientSecret: f.secretA})
	if err != nil {
		t.Fatal(err)
	}
	vol.Close()
	if got := one.peak(); got > volume.MaxPrefetch || got < volume.MaxPrefetch/2 {
		t.Errorf("peak secret requests in flight for one publish = %d, want ≤ %d and parallel", got, volume.MaxPrefetch)
	}
}

func mustBackend(t *testing.T, name string) volume.Backend {
	t.Helper()
	b, err := volume.NewBackend(name, volume.FuseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
