package emulator_test

import (
	"context"
	"errors"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/secretfs/secretfs/vault/emulator"
	"github.com/secretfs/secretfs/vault/emulator/emulatortest"
)

func TestClientAssertionCredential(t *testing.T) {
	s := emulatortest.Start(t)
	s.AddFederatedClient("wi-app", func(assertion string) bool { return assertion == "service-account-token" })
	s.Grant("wi-app", "kv1", emulator.Read)
	s.SetSecret("kv1", "s", "value", "")
	tests := []struct {
		name      string
		assertion string
		wantErr   bool
	}{
		{"accepted assertion", "service-account-token", false},
		{"rejected assertion", "forged", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cred, err := azidentity.NewClientAssertionCredential(s.TenantID(), "wi-app",
				func(context.Context) (string, error) { return tt.assertion, nil },
				&azidentity.ClientAssertionCredentialOptions{ClientOptions: clientOptions(s), DisableInstanceDiscovery: true})
			if err != nil {
				t.Fatal(err)
			}
			got, err := secretsClient(t, s, "kv1", cred).GetSecret(ctx(t), "s", "", nil)
			var afe *azidentity.AuthenticationFailedError
			if tt.wantErr != errors.As(err, &afe) {
				t.Fatalf("error = %v, want authentication failure: %v", err, tt.wantErr)
			}
			if !tt.wantErr && deref(got.Value) != "value" {
				t.Errorf("value = %q", deref(got.Value))
			}
		})
	}
}

// Each case starts its own emulator: MSAL caches managed identity tokens process-wide by client
// ID and resource, and a new port means a new resource, so no case is served from another's cache.
func TestManagedIdentityCredential(t *testing.T) {
	tests := []struct {
		name        string
		wrongHeader bool
		id          azidentity.ManagedIDKind
		wantErr     bool
	}{
		{"user-assigned by client ID", false, azidentity.ClientID("mi-1"), false},
		{"only identity when no ID is given", false, nil, false},
		{"unknown client ID", false, azidentity.ClientID("mi-2"), true},
		{"wrong identity header", true, azidentity.ClientID("mi-1"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := emulatortest.Start(t)
			s.AddManagedIdentity("mi-1")
			s.Grant("mi-1", "kv1", emulator.Read)
			s.SetSecret("kv1", "s", "value", "")
			endpoint, header := s.ManagedIdentityEndpoint()
			if tt.wrongHeader {
				header = "wrong"
			}
			t.Setenv("IDENTITY_ENDPOINT", endpoint)
			t.Setenv("IDENTITY_HEADER", header)
			cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: clientOptions(s), ID: tt.id})
			if err != nil {
				t.Fatal(err)
			}
			got, err := secretsClient(t, s, "kv1", cred).GetSecret(ctx(t), "s", "", nil)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("error = %v, want error: %v", err, tt.wantErr)
			}
			if err == nil && deref(got.Value) != "value" {
				t.Errorf("value = %q", deref(got.Value))
			}
			if n := s.Count("Token"); n != 1 {
				t.Errorf("Count(Token) = %d, want 1", n)
			}
		})
	}
}
