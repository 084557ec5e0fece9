package vault_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"

	"github.com/secretfs/secretfs/vault"
	"github.com/secretfs/secretfs/vault/emulator"
)

// These tests put a broken or hostile endpoint in front of the real SDK
// clients: the emulator's fault kinds stand for a vault, an Entra ID or a TLS
// proxy that hangs, trickles, floods, redirects or answers 200 with nothing.

// productionTransport is the client cmd/secretfs builds, pointed at the emulator.
func productionTransport(t *testing.T, s *emulator.Server) *http.Client {
	t.Helper()
	tr, err := vault.NewTransport(s.CAFile(), map[string]string{"test": s.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// boundedClient is a Client for kv1 with short time bounds; credTr sends the
// token requests and opts.Transport (default credTr) the vault requests.
func boundedClient(t *testing.T, p *vault.Params, credTr policy.Transporter, opts vault.ClientOptions) *vault.Client {
	t.Helper()
	cred, _, err := vault.NewCredential(p, vault.PodCredentials{ClientID: spID, ClientSecret: spSecret}, vault.CredentialOptions{Transport: credTr})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Transport == nil {
		opts.Transport = credTr
	}
	c, err := vault.NewClient(p.VaultURL(), cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fetchReturns runs Fetch with a context that never ends and waits (at
// most a minute, failing the test) for it to return on its own.
func fetchReturns(t *testing.T, c *vault.Client, o vault.Object, version string) (vault.Content, error) {
	t.Helper()
	type res struct {
		ct  vault.Content
		err error
	}
	done := make(chan res, 1)
	go func() {
		ct, err := c.Fetch(context.Background(), o, version)
		done <- res{ct, err}
	}()
	select {
	case r := <-done:
		return r.ct, r.err
	case <-time.After(time.Minute):
		t.Fatal("Fetch did not return within a minute: no deadline bounds it")
		return vault.Content{}, nil
	}
}

// TestHungOrTricklingEndpointIsBounded: a vault or token endpoint that
// accepts the request and never answers, or sends headers and then a byte a
// second, fails the fetch (ErrUnavailable) within the client's bounds, even
// when the caller's context has no deadline.
func TestHungOrTricklingEndpointIsBounded(t *testing.T) {
	tests := []struct {
		name  string
		token bool // fault the token endpoint, not the vault
		kind  emulator.FaultKind
	}{
		{"vault hangs", false, emulator.FaultHang},
		{"vault trickles the body", false, emulator.FaultSlowBody},
		{"token endpoint hangs", true, emulator.FaultHang},
		{"token endpoint trickles the body", true, emulator.FaultSlowBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startWithSP(t)
			s.SetSecret(kv, "a", "the-secret-value", "")
			p := params(t, s, nil, "objectName: a\nobjectType: secret")
			c := boundedClient(t, p, s.HTTPClient(), vault.ClientOptions{TryTimeout: 300 * time.Millisecond, Deadline: 3 * time.Second})
			f := emulator.Fault{Kind: tt.kind, Interval: time.Second}
			if tt.token {
				s.SetTokenFault(f)
			} else {
				s.SetFault(f)
			}
			_, err := fetchReturns(t, c, p.Objects[0], "")
			t.Log(err)
			if !errors.Is(err, vault.ErrUnavailable) || !strings.Contains(err.Error(), `secret "a"`) {
				t.Fatalf("Fetch error = %v, want ErrUnavailable naming the secret", err)
			}
			// A timed-out vault try is retried; azidentity never retries a
			// token request, the cache's backoff does.
			if n := s.Count("GetSecret"); !tt.token && n < 2 {
				t.Errorf("GetSecret requests = %d, want the timed-out try retried", n)
			}
		})
	}
}

// TestOversizedResponseRefused: a 200 whose value is far over Key Vault's
// limits is refused with an error naming the object and the cap, after
// reading no more than the cap: the fetch allocates a small fraction of the
// body, which the emulator streams without holding it.
func TestOversizedResponseRefused(t *testing.T) {
	tests := []struct {
		object, name string
		size         int64
		cap          string
	}{
		{"objectName: big\nobjectType: secret", `secret "big"`, 512 << 20, "256 KiB"},
		{"objectName: big\nobjectType: secret", `secret "big"`, 30 << 20, "256 KiB"},
		{"objectName: big\nobjectType: cert", `cert "big"`, 512 << 20, "1 MiB"},
		{"objectName: big\nobjectType: key", `key "big"`, 30 << 20, "1 MiB"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %d MiB", tt.name, tt.size>>20), func(t *testing.T) {
			s := startWithSP(t)
			p := params(t, s, nil, tt.object)
			c := spClient(t, s, p)
			s.SetFault(emulator.Fault{Kind: emulator.FaultHugeValue, Size: tt.size})
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := c.Fetch(ctx(t), p.Objects[0], "")
			runtime.ReadMemStats(&after)
			t.Log(err)
			if !errors.Is(err, vault.ErrInvalid) || !strings.Contains(err.Error(), tt.name) || !strings.Contains(err.Error(), tt.cap) {
				t.Fatalf("Fetch error = %v, want ErrInvalid naming %s and the %s cap", err, tt.name, tt.cap)
			}
			// Everything this process allocated meanwhile, the emulator
			// and TLS on both ends included: far below the body's size.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Errorf("allocated %d MiB while refusing a %d MiB body, want < 64 MiB", alloc>>20, tt.size>>20)
			}
			if n := s.Count("Get" + map[string]string{"secret": "Secret", "cert": "Certificate", "key": "Key"}[string(p.Objects[0].Type)]); n != 1 {
				t.Errorf("GET requests = %d, want 1 (an oversized body is not retried)", n)
			}
		})
	}
}

// TestValuelessResponseIsAnError: a 200 without the object's value ({} or
// the bundle minus "value"/"key"/"cer") is an error for that fetch, never an
// empty file; an empty secret value, which Key Vault stores, is served.
func TestValuelessResponseIsAnError(t *testing.T) {
	s := startWithSP(t)
	s.SetSecret(kv, "a", "the-secret-value", "")
	s.SetSecret(kv, "empty", "", "")
	s.CreateKey(kv, "k", emulator.KeyECP256)
	if _, err := s.CreateSelfSignedCertificate(kv, "c", "CN=c", emulator.ContentTypePEM); err != nil {
		t.Fatal(err)
	}
	p := params(t, s, nil, "objectName: a\nobjectType: secret", "objectName: k\nobjectType: key", "objectName: c\nobjectType: cert", "objectName: empty\nobjectType: secret")
	c := spClient(t, s, p)
	for _, kind := range []emulator.FaultKind{emulator.FaultNoValue, emulator.FaultEmptyBody} {
		for _, o := range p.Objects[:3] {
			t.Run(fmt.Sprintf("%s %d", o.Type, kind), func(t *testing.T) {
				s.SetFault(emulator.Fault{Kind: kind})
				defer s.ClearFault()
				got, err := c.Fetch(ctx(t), o, "")
				t.Log(err)
				if !errors.Is(err, vault.ErrUnavailable) || !strings.Contains(err.Error(), fmt.Sprintf("%s %q", o.Type, o.Name)) {
					t.Errorf("Fetch = %q, %v; want ErrUnavailable naming the object", got.Bytes, err)
				}
			})
		}
	}
	got, err := c.Fetch(ctx(t), p.Objects[3], "")
	if err != nil || len(got.Bytes) != 0 || got.Version == "" {
		t.Errorf("Fetch of an empty secret = %q, %q, %v; want no bytes, a version, no error", got.Bytes, got.Version, err)
	}
}

// TestPinnedVersionMustMatch: a response for another version than the one
// pinned is an error (a pinned value is cached for good); for latest any
// version is the answer.
func TestPinnedVersionMustMatch(t *testing.T) {
	s := startWithSP(t)
	v1 := s.SetSecret(kv, "a", "one", "")
	s.SetSecret(kv, "a", "two", "")
	kv1 := s.CreateKey(kv, "k", emulator.KeyECP256)
	p := params(t, s, nil, "objectName: a\nobjectType: secret\nobjectVersion: "+v1, "objectName: k\nobjectType: key\nobjectVersion: "+kv1)
	c := spClient(t, s, p)
	s.SetFault(emulator.Fault{Kind: emulator.FaultWrongVersion})
	for i, v := range []string{v1, kv1} {
		_, err := c.Fetch(ctx(t), p.Objects[i], v)
		t.Log(err)
		if !errors.Is(err, vault.ErrUnavailable) || !strings.Contains(err.Error(), "not the version "+v+" asked for") {
			t.Errorf("pinned %s: Fetch error = %v, want ErrUnavailable about the version", p.Objects[i].Type, err)
		}
	}
	if got, err := c.Fetch(ctx(t), p.Objects[0], ""); err != nil || string(got.Bytes) != "two" {
		t.Errorf("latest with another version id: %q, %v; want two, no error", got.Bytes, err)
	}
}

// hitRecorder is a plain-http server counting requests and noting whether
// any carried a token or a client secret.
type hitRecorder struct {
	*httptest.Server
	hits, leaks atomic.Int32
}

func newHitRecorder(t *testing.T) *hitRecorder {
	h := &hitRecorder{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.hits.Add(1)
		_ = r.ParseForm()
		if r.Header.Get("Authorization") != "" || r.PostForm.Get("client_secret") != "" {
			h.leaks.Add(1)
		}
		http.Error(w, "recorded", http.StatusTeapot)
	}))
	t.Cleanup(h.Close)
	return h
}

// TestRedirectsNeverFollowed: a 307 from the vault or from the token
// endpoint to a plain-http host is reported, never followed, so neither the
// bearer token nor the client secret travels. Both the production transport
// and an *http.Client that follows redirects (the emulator's) are covered.
func TestRedirectsNeverFollowed(t *testing.T) {
	tests := []struct {
		name      string
		token     bool
		prodVault bool // the vault client uses NewTransport (else the emulator's redirect-following client)
		class     error
	}{
		{"vault, production transport", false, true, vault.ErrUnavailable},
		{"vault, a redirect-following *http.Client", false, false, vault.ErrUnavailable},
		{"token endpoint", true, true, vault.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startWithSP(t)
			s.SetSecret(kv, "a", "the-secret-value", "")
			rec := newHitRecorder(t)
			p := params(t, s, nil, "objectName: a\nobjectType: secret")
			opts := vault.ClientOptions{}
			if !tt.prodVault {
				opts.Transport = s.HTTPClient()
			}
			c := boundedClient(t, p, productionTransport(t, s), opts)
			f := emulator.Fault{Kind: emulator.FaultRedirect, Location: rec.URL}
			if tt.token {
				s.SetTokenFault(f)
			} else {
				s.SetFault(f)
			}
			_, err := c.Fetch(ctx(t), p.Objects[0], "")
			t.Log(err)
			if err == nil || !strings.Contains(err.Error(), "redirect") {
				t.Errorf("Fetch error = %v, want one about a redirect", err)
			}
			if hits, leaks := rec.hits.Load(), rec.leaks.Load(); hits != 0 {
				t.Errorf("the redirect target got %d requests (%d with a token or client secret), want none", hits, leaks)
			}
			for _, secret := range []string{spSecret, "the-secret-value"} {
				if err != nil && strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains a secret", err)
				}
			}
		})
	}
}

// TestAbsurdRetryAfterClamped: Retry-After: 999999999 (31 years) becomes
// vault.MaxRetryAfter.
func TestAbsurdRetryAfterClamped(t *testing.T) {
	s := startWithSP(t)
	s.SetSecret(kv, "a", "v", "")
	p := params(t, s, nil, "objectName: a\nobjectType: secret")
	c := spClient(t, s, p)
	for _, h := range []string{"999999999", "99999999999999999999999", "Fri, 01 Jan 2100 00:00:00 GMT"} {
		s.SetFault(emulator.Fault{Status: http.StatusTooManyRequests, RetryAfterHeader: h})
		_, err := c.Fetch(ctx(t), p.Objects[0], "")
		d, ok := vault.RetryAfter(err)
		if !errors.Is(err, vault.ErrThrottled) || !ok || d != vault.MaxRetryAfter {
			t.Errorf("Retry-After %s: RetryAfter = %v, %v (error %v); want %v", h, d, ok, err, vault.MaxRetryAfter)
		}
	}
}

// TestColdClientSendsOneChallenge: M objects fetched at once through a new
// client cost one token-less challenge, one token and M GETs, not a
// challenge per object.
func TestColdClientSendsOneChallenge(t *testing.T) {
	const m = 50
	s := startWithSP(t)
	var objects []string
	for i := range m {
		name := fmt.Sprintf("s%d", i)
		s.SetSecret(kv, name, "v", "")
		objects = append(objects, "objectName: "+name+"\nobjectType: secret")
	}
	p := params(t, s, nil, objects...)
	c := spClient(t, s, p)
	var wg sync.WaitGroup
	errs := make(chan error, m)
	for _, o := range p.Objects {
		wg.Go(func() {
			if _, err := c.Fetch(ctx(t), o, ""); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	want := map[string]int{"Challenge": 1, "Token": 1, "GetSecret": m}
	if diff := cmp.Diff(want, s.Counts()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

// TestColdClientNotHeldByAHungFirstCall: the challenge gate lets a cold
// client's first call go alone only until it sends its token; if the vault
// then hangs on that call, the client's other calls still go (they used to
// wait behind it until its deadline, so one hung object stalled a publish).
func TestColdClientNotHeldByAHungFirstCall(t *testing.T) {
	s := startWithSP(t)
	s.SetSecret(kv, "first", "v", "")
	s.SetSecret(kv, "second", "v", "")
	p := params(t, s, nil, "objectName: first\nobjectType: secret", "objectName: second\nobjectType: secret")
	c := spClient(t, s, p)
	s.SetFault(emulator.Fault{Kind: emulator.FaultHang, Remaining: 1})
	hung := make(chan error, 1)
	go func() {
		_, err := c.Fetch(ctx(t), p.Objects[0], "")
		hung <- err
	}()
	for s.Count("GetSecret") == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Fetch(ctx(t), p.Objects[1], "")
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("second fetch: %v", err)
		}
	case err := <-hung:
		t.Fatalf("the hung first fetch ended (%v) before the second one", err)
	}
	if want := 1; s.Count("Challenge") != want {
		t.Errorf("challenges = %d, want %d", s.Count("Challenge"), want)
	}
}
