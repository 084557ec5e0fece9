package emulator_test

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/secretfs/secretfs/vault/emulator"
	"github.com/secretfs/secretfs/vault/emulator/emulatortest"
)

func TestFilesDescribeTheEmulator(t *testing.T) {
	s := emulatortest.Start(t)
	pemBytes, err := os.ReadFile(s.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(pemBytes) {
		t.Errorf("CA file holds no certificate")
	}
	raw, err := os.ReadFile(s.CloudEnvFile())
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Name                    string            `json:"name"`
		ActiveDirectoryEndpoint string            `json:"activeDirectoryEndpoint"`
		KeyVaultDNSSuffix       string            `json:"keyVaultDNSSuffix"`
		ResourceIdentifiers     map[string]string `json:"resourceIdentifiers"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(s.Addr(), ":")
	want := struct {
		Name                    string            `json:"name"`
		ActiveDirectoryEndpoint string            `json:"activeDirectoryEndpoint"`
		KeyVaultDNSSuffix       string            `json:"keyVaultDNSSuffix"`
		ResourceIdentifiers     map[string]string `json:"resourceIdentifiers"`
	}{"AzureStackCloud", "https://login.test:" + port + "/", "vault.test:" + port, map[string]string{"keyVault": "https://vault.test:" + port}}
	if diff := cmp.Diff(want, env); diff != "" {
		t.Errorf("cloud.json (-want +got):\n%s", diff)
	}
	if got, want := s.VaultURL("kv1"), "https://kv1.vault.test:"+port+"/"; got != want {
		t.Errorf("VaultURL = %q, want %q", got, want)
	}
}

func TestTempDirRemovedOnClose(t *testing.T) {
	s, err := emulator.Start(emulator.Options{TenantID: "my-tenant"})
	if err != nil {
		t.Fatal(err)
	}
	if s.TenantID() != "my-tenant" {
		t.Errorf("TenantID = %q", s.TenantID())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.CAFile()); !os.IsNotExist(err) {
		t.Errorf("CA file still there after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	s := emulatortest.Start(t)
	s.AddServicePrincipal("app", "pw")
	tests := []struct {
		name, tenant, form string
		status             int
		code               string
	}{
		{"unknown tenant", "other", "grant_type=client_credentials&client_id=app&client_secret=pw", http.StatusBadRequest, "invalid_request"},
		{"wrong secret", s.TenantID(), "grant_type=client_credentials&client_id=app&client_secret=no", http.StatusUnauthorized, "invalid_client"},
		{"unknown client", s.TenantID(), "grant_type=client_credentials&client_id=x&client_secret=pw", http.StatusBadRequest, "unauthorized_client"},
		{"other grant", s.TenantID(), "grant_type=password&client_id=app", http.StatusBadRequest, "unsupported_grant_type"},
		{"good", s.TenantID(), "grant_type=client_credentials&client_id=app&client_secret=pw&scope=" + url.QueryEscape("https://vault.test/.default"), http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := s.HTTPClient().Post(s.AuthorityHost()+tt.tenant+"/oauth2/v2.0/token", "application/x-www-form-urlencoded", strings.NewReader(tt.form))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Error string `json:"error"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tt.status || body.Error != tt.code {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body.Error, tt.status, tt.code)
			}
		})
	}
}

func TestExpiredTokenIsChallenged(t *testing.T) {
	s := emulatortest.Start(t)
	s.AddServicePrincipal("app", "pw")
	s.Grant("app", "kv1", emulator.Read)
	s.SetSecret("kv1", "s", "v", "")
	s.SetTokenLifetime(-time.Second)
	tok, err := s.Token("app")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx(t), http.MethodGet, s.VaultURL("kv1")+"secrets/s/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || s.Count("Unauthorized") != 1 {
		t.Errorf("status %d, Unauthorized count %d; want 401 and 1", resp.StatusCode, s.Count("Unauthorized"))
	}
}

func TestConcurrentClients(t *testing.T) {
	s := emulatortest.Start(t)
	const workers, gets = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*gets)
	for w := range workers {
		id := fmt.Sprintf("app-%d", w)
		c := secretsClient(t, s, "kv1", secretCred(t, s, id, "kv1", emulator.ReadWrite))
		wg.Go(func() {
			for i := range gets {
				s.SetSecret("kv1", id, fmt.Sprint(i), "")
				if _, err := c.GetSecret(ctx(t), id, "", nil); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := s.Count("GetSecret"); n != workers*gets {
		t.Errorf("Count(GetSecret) = %d, want %d", n, workers*gets)
	}
}
