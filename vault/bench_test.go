package vault_test

import (
	"path/filepath"
	"testing"

	"github.com/secretfs/secretfs/vault"
	"github.com/secretfs/secretfs/vault/emulator"
	"github.com/secretfs/secretfs/vault/emulator/emulatortest"
)

// BenchmarkFetch compares a Fetch on a reused Client with one on a new Client
// per call, which first pays Key Vault's 401 challenge round trip: callers
// should keep one Client per (vault, credential).
func BenchmarkFetch(b *testing.B) {
	s := emulatortest.Start(b)
	s.AddServicePrincipal(spID, spSecret)
	s.Grant(spID, kv, emulator.Read)
	s.SetSecret(kv, "a", "value", "")
	p, err := vault.ParseParameters(b.Context(), map[string]string{"keyvaultName": kv, "tenantID": s.TenantID(), "cloudName": "AzureStackCloud",
		"cloudEnvFileName": s.CloudEnvFile(), "objects": objectsYAML("objectName: a\nobjectType: secret")},
		vault.ParseOptions{CloudEnvDir: filepath.Dir(s.CloudEnvFile())})
	if err != nil {
		b.Fatal(err)
	}
	creds := vault.NewCredentials(vault.CredentialOptions{Transport: s.HTTPClient()})
	pc := vault.PodCredentials{ClientID: spID, ClientSecret: spSecret}
	newClient := func() *vault.Client {
		cred, _, err := creds.Get(p, pc)
		if err != nil {
			b.Fatal(err)
		}
		c, err := vault.NewClient(p.VaultURL(), cred, vault.ClientOptions{Transport: s.HTTPClient()})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	b.Run("reused client", func(b *testing.B) {
		c := newClient()
		for b.Loop() {
			if _, err := c.Fetch(b.Context(), p.Objects[0], ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("new client per fetch", func(b *testing.B) {
		for b.Loop() {
			if _, err := newClient().Fetch(b.Context(), p.Objects[0], ""); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkParseParameters(b *testing.B) {
	objs := make([]string, 10)
	for i := range objs {
		objs[i] = "objectName: secret-" + string(rune('a'+i)) + "\nobjectType: secret\nfilePermission: 0600"
	}
	params := map[string]string{"keyvaultName": "kv-1", "tenantID": "t", "objects": objectsYAML(objs...)}
	for b.Loop() {
		if _, err := vault.ParseParameters(b.Context(), params, vault.ParseOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
