package emulator_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/google/go-cmp/cmp"

	"github.com/secretfs/secretfs/vault/emulator"
	"github.com/secretfs/secretfs/vault/emulator/emulatortest"
)

func TestSecretsSetGetListWithRealSDK(t *testing.T) {
	s := emulatortest.Start(t)
	c := secretsClient(t, s, "kv1", secretCred(t, s, "writer", "kv1", emulator.ReadWrite))

	set, err := c.SetSecret(ctx(t), "db-password", azsecrets.SetSecretParameters{Value: new("v1"), ContentType: new("text/plain")}, nil)
	if err != nil {
		t.Fatalf("SetSecret: %v", err)
	}
	v1 := set.ID.Version()
	v2 := s.SetSecret("kv1", "db-password", "v2", "")

	tests := []struct {
		name, version, want string
	}{
		{"latest", "", "v2"},
		{"first version", v1, "v1"},
		{"second version", v2, "v2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.GetSecret(ctx(t), "db-password", tt.version, nil)
			if err != nil {
				t.Fatalf("GetSecret: %v", err)
			}
			if diff := cmp.Diff(tt.want, deref(got.Value)); diff != "" {
				t.Errorf("value (-want +got):\n%s", diff)
			}
			if got.ID.Name() != "db-password" || got.ID.Version() == "" {
				t.Errorf("id = %q, want name db-password and a version", *got.ID)
			}
		})
	}
}

func TestSecretVersionsPageWithNextLink(t *testing.T) {
	s := emulatortest.Start(t)
	c := secretsClient(t, s, "kv1", secretCred(t, s, "reader", "kv1", emulator.Read))
	var want []string
	for i := range 60 {
		want = append(want, s.SetSecret("kv1", "rotating", fmt.Sprint(i), ""))
	}
	var got []string
	pager := c.NewListSecretPropertiesVersionsPager("rotating", nil)
	pages := 0
	for pager.More() {
		page, err := pager.NextPage(ctx(t))
		if err != nil {
			t.Fatalf("NextPage: %v", err)
		}
		pages++
		for _, p := range page.Value {
			got = append(got, p.ID.Version())
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
	if pages != 3 {
		t.Errorf("pages = %d, want 3 (25 per page)", pages)
	}
	if n := s.Count("ListSecretVersions"); n != 3 {
		t.Errorf("Count(ListSecretVersions) = %d, want 3", n)
	}
}

func TestDisabledSecretVersionIsForbidden(t *testing.T) {
	s := emulatortest.Start(t)
	c := secretsClient(t, s, "kv1", secretCred(t, s, "reader", "kv1", emulator.Read))
	old := s.SetSecret("kv1", "s", "old", "")
	s.SetSecret("kv1", "s", "new", "")
	s.DisableSecretVersion("kv1", "s", old)

	_, err := c.GetSecret(ctx(t), "s", old, nil)
	wantStatus(t, err, http.StatusForbidden, "Forbidden")
	if _, err := c.GetSecret(ctx(t), "s", "", nil); err != nil {
		t.Errorf("latest after disabling an old version: %v", err)
	}
	s.DisableSecretVersion("kv1", "s", "")
	_, err = c.GetSecret(ctx(t), "s", "", nil)
	wantStatus(t, err, http.StatusForbidden, "Forbidden")
}

func TestUpdateSecretProperties(t *testing.T) {
	s := emulatortest.Start(t)
	c := secretsClient(t, s, "kv1", secretCred(t, s, "writer", "kv1", emulator.ReadWrite))
	v := s.SetSecret("kv1", "s", "x", "")
	_, err := c.UpdateSecretProperties(ctx(t), "s", v, azsecrets.UpdateSecretPropertiesParameters{
		ContentType: new("application/json"), SecretAttributes: &azsecrets.SecretAttributes{Enabled: new(false)}}, nil)
	if err != nil {
		t.Fatalf("UpdateSecretProperties: %v", err)
	}
	_, err = c.GetSecret(ctx(t), "s", v, nil)
	wantStatus(t, err, http.StatusForbidden, "Forbidden")
}

func TestUnknownSecretIsNotFound(t *testing.T) {
	s := emulatortest.Start(t)
	c := secretsClient(t, s, "kv1", secretCred(t, s, "reader", "kv1", emulator.Read))
	_, err := c.GetSecret(ctx(t), "missing", "", nil)
	wantStatus(t, err, http.StatusNotFound, "SecretNotFound")
}

// wantStatus fails unless err is a ResponseError with the status and code.
func wantStatus(t *testing.T, err error, status int, code string) {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error = %v, want *azcore.ResponseError %d %s", err, status, code)
	}
	if re.StatusCode != status || re.ErrorCode != code {
		t.Errorf("got %d %s, want %d %s", re.StatusCode, re.ErrorCode, status, code)
	}
}
