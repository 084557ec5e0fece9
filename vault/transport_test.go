package vault

import "testing"

func TestResolveAddr(t *testing.T) {
	resolve := map[string]string{"vault.test": "127.0.0.1:1", "login.test": "127.0.0.1:2"}
	for _, tc := range []struct{ in, want string }{
		{"myvault.vault.test:8443", "127.0.0.1:1"},
		{"vault.test:8443", "127.0.0.1:1"},
		{"login.test:8443", "127.0.0.1:2"},
		{"evilvault.test:8443", "evilvault.test:8443"},
		{"example.com:443", "example.com:443"},
		{"no-port", "no-port"},
	} {
		if got := resolveAddr(tc.in, resolve); got != tc.want {
			t.Errorf("resolveAddr(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
