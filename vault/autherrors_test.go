package vault_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode"

	"github.com/secretfs/secretfs/vault"
	"github.com/secretfs/secretfs/vault/emulator"
	"github.com/secretfs/secretfs/vault/emulator/emulatortest"
)

// TestAuthErrorsAreOneBoundedLine: what Entra ID (or whatever a custom
// cloud's activeDirectoryEndpoint points at) answers a refused token
// request ends up in gRPC errors and pod events. azidentity's error quotes
// the raw response over many lines; ours must be one line of printable
// text, bounded, still naming the class and Entra's code.
func TestAuthErrorsAreOneBoundedLine(t *testing.T) {
	s := emulatortest.Start(t)
	s.AddServicePrincipal(spID, spSecret)
	s.Grant(spID, kv, emulator.Read)
	s.SetSecret(kv, "a", "value", "")
	p := params(t, s, nil, "objectName: a\nobjectType: secret")
	hostileJSON := `{"error":"invalid_client\nINJECTED-LINE\u001b[31m","error_description":"AADSTS7000215: first line\nsecond line \u202eevil\u0007 ` +
		strings.Repeat("A", 100<<10) + `"}`
	tests := []struct {
		name   string
		secret string
		fault  emulator.TokenError
		want   error
		says   []string
	}{
		{"wrong client secret", "not-the-secret", emulator.TokenError{}, vault.ErrAccessDenied,
			[]string{"authentication failed", "401 invalid_client", "AADSTS7000215"}},
		{"multi-line JSON with control characters", spSecret, emulator.TokenError{Status: http.StatusBadRequest, Body: hostileJSON}, vault.ErrAccessDenied,
			[]string{"authentication failed", "400 invalid_client", "AADSTS7000215: first line"}},
		{"multi-line HTML", spSecret, emulator.TokenError{Status: http.StatusUnauthorized,
			Body: "<html>\r\n<body>\n" + strings.Repeat("<p>denied\x1b[0m</p>\n", 2000) + "</body></html>"}, vault.ErrAccessDenied,
			[]string{"authentication failed", "401"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.SetTokenError(tt.fault)
			t.Cleanup(s.ClearTokenError)
			// A fresh cache each time: azidentity caches tokens per credential.
			creds := vault.NewCredentials(vault.CredentialOptions{Transport: s.HTTPClient()})
			cred, _, err := creds.Get(p, vault.PodCredentials{ClientID: spID, ClientSecret: tt.secret})
			if err != nil {
				t.Fatal(err)
			}
			_, tokenErr := cred.GetToken(ctx(t), vault.TokenRequestOptions(p))
			c, err := vault.NewClient(p.VaultURL(), cred, vault.ClientOptions{Transport: s.HTTPClient()})
			if err != nil {
				t.Fatal(err)
			}
			_, fetchErr := c.Fetch(ctx(t), p.Objects[0], "")
			for what, err := range map[string]error{"GetToken": tokenErr, "Fetch": fetchErr} {
				checkAuthError(t, what, err, tt.want, tt.says, tt.secret)
			}
		})
	}
}

func checkAuthError(t *testing.T, what string, err, want error, says []string, secret string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
	msg := err.Error()
	if len(msg) > vault.MaxErrorLen {
		t.Errorf("%s: error is %d bytes, want at most %d: %.300q…", what, len(msg), vault.MaxErrorLen, msg)
	}
	for _, r := range msg {
		if !unicode.IsPrint(r) {
			t.Errorf("%s: error holds %U, want one line of printable text: %.600q", what, r, msg)
			break
		}
	}
	for _, w := range says {
		if !strings.Contains(msg, w) {
			t.Errorf("%s: error %q does not say %q", what, msg, w)
		}
	}
	for _, leak := range []string{secret, "INJECTED", "second line", "RESPONSE 40", "-----"} {
		if strings.Contains(msg, leak) {
			t.Errorf("%s: error %q holds %q", what, msg, leak)
		}
	}
}
