package emulator_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/google/go-cmp/cmp"

	"github.com/secretfs/secretfs/vault/emulator"
	"github.com/secretfs/secretfs/vault/emulator/emulatortest"
)

func TestWrongClientSecretFailsAuthentication(t *testing.T) {
	s := emulatortest.Start(t)
	s.AddServicePrincipal("app", "right")
	s.Grant("app", "kv1", emulator.Read)
	s.SetSecret("kv1", "s", "value", "")
	c := secretsClient(t, s, "kv1", clientSecretCred(t, s, "app", "wrong"))

	_, err := c.GetSecret(ctx(t), "s", "", nil)
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) {
		t.Fatalf("error = %v, want AuthenticationFailedError", err)
	}
	if afe.RawResponse == nil || afe.RawResponse.StatusCode != http.StatusUnauthorized {
		t.Errorf("token endpoint response = %v, want 401", afe.RawResponse)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error leaks the client secret: %v", err)
	}
}

func TestUnknownClientFailsAuthentication(t *testing.T) {
	s := emulatortest.Start(t)
	c := secretsClient(t, s, "kv1", clientSecretCred(t, s, "nobody", "x"))
	_, err := c.GetSecret(ctx(t), "s", "", nil)
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) {
		t.Fatalf("error = %v, want AuthenticationFailedError", err)
	}
}

func TestAccessNeedsGrantAndRevokeTakesEffect(t *testing.T) {
	s := emulatortest.Start(t)
	s.SetSecret("kv1", "s", "value", "")
	s.SetSecret("kv2", "s", "value", "")
	cred := secretCred(t, s, "app", "kv1", emulator.Read)
	kv1, kv2 := secretsClient(t, s, "kv1", cred), secretsClient(t, s, "kv2", cred)

	if _, err := kv1.GetSecret(ctx(t), "s", "", nil); err != nil {
		t.Fatalf("granted vault: %v", err)
	}
	_, err := kv2.GetSecret(ctx(t), "s", "", nil)
	wantStatus(t, err, http.StatusForbidden, "Forbidden")
	if err != nil && !strings.Contains(err.Error(), "app") {
		t.Errorf("403 does not name the client: %v", err)
	}
	_, err = kv1.SetSecret(ctx(t), "s", azsecrets.SetSecretParameters{Value: new("x")}, nil)
	wantStatus(t, err, http.StatusForbidden, "Forbidden")

	s.Revoke("app", "kv1")
	_, err = kv1.GetSecret(ctx(t), "s", "", nil)
	wantStatus(t, err, http.StatusForbidden, "Forbidden")
}

func TestTokenMintedDirectly(t *testing.T) {
	s := emulatortest.Start(t)
	s.AddServicePrincipal("app", "pw")
	s.Grant("app", "kv1", emulator.Read)
	s.SetSecret("kv1", "s", "value", "")
	if _, err := s.Token("unknown"); err == nil {
		t.Errorf("Token(unknown) succeeded")
	}
	tok, err := s.Token("app")
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	tests := []struct {
		name   string
		auth   string
		status int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"bad token", "Bearer nope", http.StatusUnauthorized},
		{"minted token", "Bearer " + tok, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(ctx(t), http.MethodGet, s.VaultURL("kv1")+"secrets/s/?api-version=2026-04-01", nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := s.HTTPClient().Do(req)
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status == http.StatusUnauthorized {
				want := `Bearer authorization="` + s.AuthorityHost() + s.TenantID() + `", resource="https://` + s.VaultDNSSuffix() + `"`
				if got := resp.Header.Get("WWW-Authenticate"); got != want {
					t.Errorf("challenge = %q, want %q", got, want)
				}
			}
		})
	}
}

func TestThrottlingIsRetriedAfterRetryAfter(t *testing.T) {
	s := emulatortest.Start(t)
	c := secretsClient(t, s, "kv1", secretCred(t, s, "app", "kv1", emulator.Read))
	s.SetSecret("kv1", "s", "value", "")
	if _, err := c.GetSecret(ctx(t), "s", "", nil); err != nil { // warm: token and challenge done
		t.Fatal(err)
	}
	s.ResetCounts()
	s.SetFault(emulator.Fault{Status: http.StatusTooManyRequests, RetryAfter: 50 * time.Millisecond, Remaining: 2})

	got, err := c.GetSecret(ctx(t), "s", "", nil)
	if err != nil {
		t.Fatalf("GetSecret after 2 throttles: %v", err)
	}
	if deref(got.Value) != "value" {
		t.Errorf("value = %q", deref(got.Value))
	}
	if diff := cmp.Diff(map[string]int{"GetSecret": 3}, s.Counts()); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}

func TestPersistentFaultSurfacesWithRetryAfter(t *testing.T) {
	s := emulatortest.Start(t)
	c := secretsClient(t, s, "kv1", secretCred(t, s, "app", "kv1", emulator.Read))
	s.SetSecret("kv1", "s", "value", "")
	s.SetFault(emulator.Fault{Status: http.StatusTooManyRequests, RetryAfter: 10 * time.Millisecond})
	_, err := c.GetSecret(ctx(t), "s", "", nil)
	wantStatus(t, err, http.StatusTooManyRequests, "Throttled")
	if n := s.Count("GetSecret"); n != 4 {
		t.Errorf("Count(GetSecret) = %d, want 4 (1 + 3 retries)", n)
	}
	s.ClearFault()
	if _, err := c.GetSecret(ctx(t), "s", "", nil); err != nil {
		t.Errorf("after ClearFault: %v", err)
	}
}

func TestOutage(t *testing.T) {
	s := emulatortest.Start(t)
	c := secretsClient(t, s, "kv1", secretCred(t, s, "app", "kv1", emulator.Read))
	s.SetSecret("kv1", "s", "value", "")
	s.SetOutage(true)
	_, err := c.GetSecret(ctx(t), "s", "", nil)
	wantStatus(t, err, http.StatusServiceUnavailable, "ServiceUnavailable")
	if n := s.Count("Outage"); n != 4 {
		t.Errorf("Count(Outage) = %d, want 4 (1 + 3 retries)", n)
	}
	s.SetOutage(false)
	if _, err := c.GetSecret(ctx(t), "s", "", nil); err != nil {
		t.Errorf("after outage: %v", err)
	}
}

func TestLatencyIsAdded(t *testing.T) {
	s := emulatortest.Start(t)
	c := secretsClient(t, s, "kv1", secretCred(t, s, "app", "kv1", emulator.Read))
	s.SetSecret("kv1", "s", "value", "")
	const latency = 200 * time.Millisecond
	s.SetLatency(latency)
	start := time.Now()
	if _, err := c.GetSecret(ctx(t), "s", "", nil); err != nil {
		t.Fatal(err)
	}
	// A lower bound only: the emulator must not answer before its latency has passed.
	if took := time.Since(start); took < latency {
		t.Errorf("GetSecret took %v, want at least the latency %v", took, latency)
	}
}

func TestCountsByOperation(t *testing.T) {
	s := emulatortest.Start(t)
	c := secretsClient(t, s, "kv1", secretCred(t, s, "app", "kv1", emulator.ReadWrite))
	for range 3 {
		if _, err := c.SetSecret(ctx(t), "s", azsecrets.SetSecretParameters{Value: new("v")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.GetSecret(ctx(t), "s", "", nil); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"Challenge": 1, "Token": 1, "SetSecret": 3, "GetSecret": 1}
	if diff := cmp.Diff(want, s.Counts()); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	s.ResetCounts()
	if diff := cmp.Diff(map[string]int{}, s.Counts()); diff != "" {
		t.Errorf("after reset (-want +got):\n%s", diff)
	}
}
