package emulator_test

import (
	"context"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"go.uber.org/goleak"

	"github.com/secretfs/secretfs/vault/emulator"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// ctx is a per-test context bounded so a protocol mistake fails instead of hanging.
func ctx(t testing.TB) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// clientOptions sends everything through the emulator's client, with quick retries.
func clientOptions(s *emulator.Server) azcore.ClientOptions {
	return azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: s.AuthorityHost()},
		Transport: s.HTTPClient(),
		Retry:     policy.RetryOptions{RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 100 * time.Millisecond},
	}
}

// secretCred registers a service principal, grants it perm on vault and returns its credential.
func secretCred(t testing.TB, s *emulator.Server, clientID, vault string, perm emulator.Perm) azcore.TokenCredential {
	t.Helper()
	s.AddServicePrincipal(clientID, "secret-of-"+clientID)
	if vault != "" {
		s.Grant(clientID, vault, perm)
	}
	return clientSecretCred(t, s, clientID, "secret-of-"+clientID)
}

func clientSecretCred(t testing.TB, s *emulator.Server, clientID, secret string) azcore.TokenCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(s.TenantID(), clientID, secret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: clientOptions(s), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatalf("NewClientSecretCredential: %v", err)
	}
	return cred
}

func secretsClient(t testing.TB, s *emulator.Server, vault string, cred azcore.TokenCredential) *azsecrets.Client {
	t.Helper()
	c, err := azsecrets.NewClient(s.VaultURL(vault), cred, &azsecrets.ClientOptions{ClientOptions: clientOptions(s)})
	if err != nil {
		t.Fatalf("azsecrets.NewClient: %v", err)
	}
	return c
}

func keysClient(t testing.TB, s *emulator.Server, vault string, cred azcore.TokenCredential) *azkeys.Client {
	t.Helper()
	c, err := azkeys.NewClient(s.VaultURL(vault), cred, &azkeys.ClientOptions{ClientOptions: clientOptions(s)})
	if err != nil {
		t.Fatalf("azkeys.NewClient: %v", err)
	}
	return c
}

func certsClient(t testing.TB, s *emulator.Server, vault string, cred azcore.TokenCredential) *azcertificates.Client {
	t.Helper()
	c, err := azcertificates.NewClient(s.VaultURL(vault), cred, &azcertificates.ClientOptions{ClientOptions: clientOptions(s)})
	if err != nil {
		t.Fatalf("azcertificates.NewClient: %v", err)
	}
	return c
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
