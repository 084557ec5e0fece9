package vault

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func spParams() *Params {
	return &Params{VaultName: "kv-1", TenantID: "tenant-a", Cloud: knownClouds[0]}
}

func TestCredentialsEvictLeastRecentlyUsed(t *testing.T) {
	c := NewCredentials(CredentialOptions{})
	c.max = 2
	p := spParams()
	pc := func(secret string) PodCredentials { return PodCredentials{ClientID: "sp", ClientSecret: secret} }
	a, _, _ := c.Get(p, pc("a"))
	if _, _, err := c.Get(p, pc("b")); err != nil {
		t.Fatal(err)
	}
	if again, _, _ := c.Get(p, pc("a")); again != a { // a is now the most recent
		t.Fatal("cached credential not returned")
	}
	if _, _, err := c.Get(p, pc("c")); err != nil { // evicts b
		t.Fatal(err)
	}
	if got, _, _ := c.Get(p, pc("a")); got != a {
		t.Error("a was evicted, want b evicted")
	}
	if n := c.Len(); n != 2 {
		t.Errorf("Len = %d, want 2", n)
	}
}

func TestCredentialsKeySeparatesModes(t *testing.T) {
	c := NewCredentials(CredentialOptions{})
	sp := spParams()
	wi := spParams()
	wi.ClientID = "sp"
	mi := spParams()
	mi.UseVMManagedIdentity, mi.UserAssignedIdentityID = true, "sp"
	pc := PodCredentials{ClientID: "sp", ClientSecret: "same", ServiceAccountToken: "same"}
	keys := map[string]bool{}
	for _, p := range []*Params{sp, wi, mi} {
		id, err := identityOf(p, pc)
		if err != nil {
			t.Fatal(err)
		}
		keys[c.key(p, pc, id)] = true
	}
	if len(keys) != 3 {
		t.Errorf("service principal, workload and managed identity share keys: %d distinct", len(keys))
	}
	other := NewCredentials(CredentialOptions{})
	id, _ := identityOf(sp, pc)
	if c.key(sp, pc, id) == other.key(sp, pc, id) {
		t.Error("two processes' caches derive the same key: the HMAC key is not random")
	}
}

func TestCredentialsConcurrentGet(t *testing.T) {
	c := NewCredentials(CredentialOptions{})
	p := spParams()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				if _, _, err := c.Get(p, PodCredentials{ClientID: "sp", ClientSecret: fmt.Sprint((i + j) % 5)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := c.Len(); n != 5 {
		t.Errorf("Len = %d, want 5", n)
	}
}

func TestRetryAfterHeaders(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"seconds", http.Header{"Retry-After": {"3"}}, 3 * time.Second},
		{"milliseconds win", http.Header{"Retry-After": {"3"}, "Retry-After-Ms": {"1500"}}, 1500 * time.Millisecond},
		{"x-ms milliseconds", http.Header{"X-Ms-Retry-After-Ms": {"250"}}, 250 * time.Millisecond},
		{"none", http.Header{}, 0},
		{"garbage", http.Header{"Retry-After": {"soon"}}, 0},
		{"date in the past", http.Header{"Retry-After": {"Mon, 02 Jan 2006 15:04:05 GMT"}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, retryAfter(&http.Response{Header: tt.header})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
