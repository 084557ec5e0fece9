package vault_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/secretfs/secretfs/vault"
	"github.com/secretfs/secretfs/vault/emulator"
	"github.com/secretfs/secretfs/vault/emulator/emulatortest"
)

func TestWorkloadIdentity(t *testing.T) {
	s := emulatortest.Start(t)
	s.AddFederatedClient("wi-1", func(assertion string) bool { return assertion == "sa-token-good" })
	s.Grant("wi-1", kv, emulator.Read)
	s.SetSecret(kv, "a", "wi-value", "")
	p := params(t, s, map[string]string{"clientID": "wi-1"}, "objectName: a\nobjectType: secret")
	tests := []struct {
		name, token string
		wantErr     error
	}{
		{"federated token accepted", "sa-token-good", nil},
		{"other token refused", "sa-token-bad", vault.ErrAccessDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cred, id, err := vault.NewCredential(p, vault.PodCredentials{ServiceAccountToken: tt.token}, vault.CredentialOptions{Transport: s.HTTPClient()})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(vault.Identity{TenantID: s.TenantID(), ClientID: "wi-1"}, id); diff != "" {
				t.Errorf("Identity (-want +got):\n%s", diff)
			}
			c, err := vault.NewClient(p.VaultURL(), cred, vault.ClientOptions{Transport: s.HTTPClient()})
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Fetch(ctx(t), p.Objects[0], "")
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("Fetch error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && string(got.Bytes) != "wi-value" {
				t.Errorf("Fetch = %q", got.Bytes)
			}
			if err != nil && strings.Contains(err.Error(), tt.token) {
				t.Errorf("error %q contains the token", err)
			}
		})
	}
}

// TestManagedIdentity: each case starts its own emulator because MSAL caches
// managed identity tokens process-wide by client ID and resource.
func TestManagedIdentity(t *testing.T) {
	tests := []struct {
		name, userAssigned string
		wantID             string
		wantErr            error
	}{
		{"user-assigned", "mi-1", "mi-1", nil},
		{"system-assigned (the node's only identity)", "", vault.SystemAssignedIdentity, nil},
		{"unknown user-assigned identity", "mi-2", "mi-2", vault.ErrAccessDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := emulatortest.Start(t)
			s.AddManagedIdentity("mi-1")
			s.Grant("mi-1", kv, emulator.Read)
			s.SetSecret(kv, "a", "mi-value", "")
			endpoint, header := s.ManagedIdentityEndpoint()
			t.Setenv("IDENTITY_ENDPOINT", endpoint)
			t.Setenv("IDENTITY_HEADER", header)
			p := params(t, s, map[string]string{"useVMManagedIdentity": "true", "userAssignedIdentityID": tt.userAssigned}, "objectName: a\nobjectType: secret")
			cred, id, err := vault.NewCredential(p, vault.PodCredentials{}, vault.CredentialOptions{Transport: s.HTTPClient()})
			if err != nil {
				t.Fatal(err)
			}
			if id.ClientID != tt.wantID {
				t.Errorf("Identity.ClientID = %q, want %q", id.ClientID, tt.wantID)
			}
			c, err := vault.NewClient(p.VaultURL(), cred, vault.ClientOptions{Transport: s.HTTPClient()})
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Fetch(ctx(t), p.Objects[0], "")
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("Fetch error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && string(got.Bytes) != "mi-value" {
				t.Errorf("Fetch = %q", got.Bytes)
			}
		})
	}
}

func TestNewCredentialMissingPieces(t *testing.T) {
	s := emulatortest.Start(t)
	tests := []struct {
		name  string
		extra map[string]string
		pc    vault.PodCredentials
		want  []string
	}{
		{"nothing", nil, vault.PodCredentials{}, []string{"no credential", "nodePublishSecretRef", "clientid", "clientsecret", "clientID", "useVMManagedIdentity"}},
		{"client id without secret", nil, vault.PodCredentials{ClientID: "x"}, []string{"no credential"}},
		{"workload identity without token", map[string]string{"clientID": "wi-1"}, vault.PodCredentials{}, []string{`clientID "wi-1"`, "api://AzureADTokenExchange", "tokenRequests"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := params(t, s, tt.extra, "objectName: a\nobjectType: secret")
			for _, get := range []func() error{
				func() error { _, _, err := vault.NewCredential(p, tt.pc, vault.CredentialOptions{}); return err },
				func() error { _, _, err := vault.NewCredentials(vault.CredentialOptions{}).Get(p, tt.pc); return err },
			} {
				err := get()
				if !errors.Is(err, vault.ErrInvalid) {
					t.Fatalf("error = %v, want ErrInvalid", err)
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
			}
		})
	}
}

func TestParseServiceAccountTokens(t *testing.T) {
	tests := []struct {
		name, value, want string
		wantErr           bool
	}{
		{"kubelet's form", `{"api://AzureADTokenExchange":{"token":"eyJ.tok","expirationTimestamp":"2030-01-01T00:00:00Z"}}`, "eyJ.tok", false},
		{"other audiences beside it", `{"aud2":{"token":"other"},"api://AzureADTokenExchange":{"token":"eyJ.tok"}}`, "eyJ.tok", false},
		{"audience missing", `{"aud2":{"token":"eyJ.tok"}}`, "", true},
		{"empty token", `{"api://AzureADTokenExchange":{"token":""}}`, "", true},
		{"not JSON", `eyJ.tok`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := vault.ParseServiceAccountTokens(tt.value)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "eyJ.tok") {
				t.Errorf("error %q contains the token", err)
			}
			if got != tt.want {
				t.Errorf("token = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCredentialsShareTokens: pods presenting the same secret share one
// credential and one Entra ID token; a wrong secret never rides on a right
// one's credential; Scope is the scope the Key Vault clients ask for.
func TestCredentialsShareTokens(t *testing.T) {
	s := startWithSP(t)
	s.SetSecret(kv, "a", "v", "")
	p := params(t, s, nil, "objectName: a\nobjectType: secret")
	creds := vault.NewCredentials(vault.CredentialOptions{Transport: s.HTTPClient()})
	right := vault.PodCredentials{ClientID: spID, ClientSecret: spSecret}

	cred1, id1, err := creds.Get(p, right)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cred1.GetToken(ctx(t), vault.TokenRequestOptions(p)); err != nil {
		t.Fatalf("GetToken(TokenRequestOptions): %v", err)
	}
	for range 3 { // three pods, same secret
		cred, id, err := creds.Get(p, right)
		if err != nil {
			t.Fatal(err)
		}
		if cred != cred1 || id != id1 {
			t.Fatal("same secret gave another credential")
		}
		c, err := vault.NewClient(p.VaultURL(), cred, vault.ClientOptions{Transport: s.HTTPClient()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Fetch(ctx(t), p.Objects[0], ""); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Count("Token"); n != 1 {
		t.Errorf("Entra ID token requests = %d, want 1 (the Scope token reused by every client)", n)
	}

	wrong, wrongID, err := creds.Get(p, vault.PodCredentials{ClientID: spID, ClientSecret: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	if wrong == cred1 {
		t.Fatal("a wrong secret got the right secret's credential")
	}
	if wrongID != id1 {
		t.Errorf("Identity = %+v, want %+v (the cache keys on who, not on the secret)", wrongID, id1)
	}
	if _, err := wrong.GetToken(ctx(t), vault.TokenRequestOptions(p)); err == nil {
		t.Fatal("wrong secret got a token")
	}
	if n := creds.Len(); n != 2 {
		t.Errorf("Len = %d, want 2", n)
	}
}
