package emulator_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/google/go-cmp/cmp"

	"github.com/secretfs/secretfs/vault/emulator"
	"github.com/secretfs/secretfs/vault/emulator/emulatortest"
)

func TestCreateAndGetKeysWithRealSDK(t *testing.T) {
	s := emulatortest.Start(t)
	c := keysClient(t, s, "kv1", secretCred(t, s, "app", "kv1", emulator.ReadWrite))
	tests := []struct {
		name   string
		params azkeys.CreateKeyParameters
		kty    azkeys.KeyType
		bits   int // RSA modulus or EC coordinate bits
	}{
		{"rsa-2048", azkeys.CreateKeyParameters{Kty: new(azkeys.KeyTypeRSA), KeySize: new(int32(2048))}, azkeys.KeyTypeRSA, 2048},
		{"rsa-3072", azkeys.CreateKeyParameters{Kty: new(azkeys.KeyTypeRSA), KeySize: new(int32(3072))}, azkeys.KeyTypeRSA, 3072},
		{"ec-p256", azkeys.CreateKeyParameters{Kty: new(azkeys.KeyTypeEC), Curve: new(azkeys.CurveNameP256)}, azkeys.KeyTypeEC, 256},
		{"ec-p384", azkeys.CreateKeyParameters{Kty: new(azkeys.KeyTypeEC), Curve: new(azkeys.CurveNameP384)}, azkeys.KeyTypeEC, 384},
		{"ec-p521", azkeys.CreateKeyParameters{Kty: new(azkeys.KeyTypeEC), Curve: new(azkeys.CurveNameP521)}, azkeys.KeyTypeEC, 521},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			created, err := c.CreateKey(ctx(t), tt.name, tt.params, nil)
			if err != nil {
				t.Fatalf("CreateKey: %v", err)
			}
			for _, version := range []string{"", created.Key.KID.Version()} {
				got, err := c.GetKey(ctx(t), tt.name, version, nil)
				if err != nil {
					t.Fatalf("GetKey(%q): %v", version, err)
				}
				if diff := cmp.Diff(*created.Key.KID, *got.Key.KID); diff != "" {
					t.Errorf("kid (-want +got):\n%s", diff)
				}
				checkJWK(t, got.Key, tt.kty, tt.bits)
			}
		})
	}
}

// checkJWK checks the public key decodes to a usable key of the wanted size.
func checkJWK(t *testing.T, k *azkeys.JSONWebKey, kty azkeys.KeyType, bits int) {
	t.Helper()
	if deref(k.Kty) != kty {
		t.Fatalf("kty = %v, want %v", deref(k.Kty), kty)
	}
	switch kty {
	case azkeys.KeyTypeRSA:
		if got := new(big.Int).SetBytes(k.N).BitLen(); got != bits {
			t.Errorf("modulus bits = %d, want %d", got, bits)
		}
		if got := new(big.Int).SetBytes(k.E).Int64(); got != 65537 {
			t.Errorf("e = %d", got)
		}
	case azkeys.KeyTypeEC:
		curves := map[int]elliptic.Curve{256: elliptic.P256(), 384: elliptic.P384(), 521: elliptic.P521()}
		size := (bits + 7) / 8
		if len(k.X) != size || len(k.Y) != size {
			t.Errorf("coordinate sizes %d,%d, want %d", len(k.X), len(k.Y), size)
		}
		if !curves[bits].IsOnCurve(new(big.Int).SetBytes(k.X), new(big.Int).SetBytes(k.Y)) { //nolint:staticcheck // checking the emulator's encoding
			t.Errorf("point not on curve")
		}
	}
}

func TestSeededKeysAndVersions(t *testing.T) {
	s := emulatortest.Start(t)
	c := keysClient(t, s, "kv1", secretCred(t, s, "app", "kv1", emulator.Read))
	v1 := s.CreateKey("kv1", "k", emulator.KeyECP256)
	v2 := s.CreateKey("kv1", "k", emulator.KeyRSA2048)

	latest, err := c.GetKey(ctx(t), "k", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if latest.Key.KID.Version() != v2 {
		t.Errorf("latest version = %s, want %s", latest.Key.KID.Version(), v2)
	}
	checkJWK(t, latest.Key, azkeys.KeyTypeRSA, 2048)

	var got []string
	for pager := c.NewListKeyPropertiesVersionsPager("k", nil); pager.More(); {
		page, err := pager.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range page.Value {
			got = append(got, k.KID.Version())
		}
	}
	if diff := cmp.Diff([]string{v1, v2}, got); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
	_, err = c.GetKey(ctx(t), "missing", "", nil)
	wantStatus(t, err, http.StatusNotFound, "KeyNotFound")
	if n := s.Count("GetKey"); n != 2 {
		t.Errorf("Count(GetKey) = %d, want 2", n)
	}
}

func TestImportKeyKeepsPublicPart(t *testing.T) {
	s := emulatortest.Start(t)
	c := keysClient(t, s, "kv1", secretCred(t, s, "app", "kv1", emulator.ReadWrite))
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		jwk  azkeys.JSONWebKey
		kty  azkeys.KeyType
		bits int
	}{
		{"rsa", azkeys.JSONWebKey{Kty: new(azkeys.KeyTypeRSA), N: rk.N.Bytes(), E: big.NewInt(int64(rk.E)).Bytes(), D: rk.D.Bytes()}, azkeys.KeyTypeRSA, 2048},
		{"ec", azkeys.JSONWebKey{Kty: new(azkeys.KeyTypeEC), Crv: new(azkeys.CurveNameP384), X: ek.X.FillBytes(make([]byte, 48)), Y: ek.Y.FillBytes(make([]byte, 48))}, azkeys.KeyTypeEC, 384},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imported, err := c.ImportKey(ctx(t), tt.name, azkeys.ImportKeyParameters{Key: &tt.jwk}, nil)
			if err != nil {
				t.Fatalf("ImportKey: %v", err)
			}
			if imported.Key.D != nil {
				t.Errorf("private exponent returned")
			}
			checkJWK(t, imported.Key, tt.kty, tt.bits)
		})
	}
}
