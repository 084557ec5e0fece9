package vault

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/google/go-cmp/cmp"
	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// testChain is root → intermediate → leaf, with the leaf's key.
type testChain struct {
	key               crypto.Signer
	leaf, inter, root *x509.Certificate
}

func newTestChain(t *testing.T) testChain {
	t.Helper()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	interKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	root := issue(t, "root", true, rootKey, nil, rootKey)
	inter := issue(t, "intermediate", true, interKey, root, rootKey)
	leaf := issue(t, "leaf", false, leafKey, inter, interKey)
	return testChain{key: leafKey, leaf: leaf, inter: inter, root: root}
}

var serial int64

func issue(t *testing.T, cn string, ca bool, key crypto.Signer, parent *x509.Certificate, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: ca, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pemOf(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func certsPEM(certs ...*x509.Certificate) string {
	var s string
	for _, c := range certs {
		s += pemOf("CERTIFICATE", c.Raw)
	}
	return s
}

func pkcs8PEM(t *testing.T, key crypto.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("PRIVATE KEY", der)
}

func names(certs []*x509.Certificate) []string {
	var out []string
	for _, c := range certs {
		out = append(out, c.Subject.CommonName)
	}
	return out
}

func TestOrderChain(t *testing.T) {
	ch := newTestChain(t)
	l, i, r := ch.leaf, ch.inter, ch.root
	stray := issue(t, "stray", false, ch.key, nil, ch.key)
	tests := []struct {
		name  string
		key   crypto.PrivateKey
		certs []*x509.Certificate
		want  []string
	}{
		{"in order", ch.key, []*x509.Certificate{l, i, r}, []string{"leaf", "intermediate", "root"}},
		{"reversed", ch.key, []*x509.Certificate{r, i, l}, []string{"leaf", "intermediate", "root"}},
		{"shuffled", ch.key, []*x509.Certificate{i, r, l}, []string{"leaf", "intermediate", "root"}},
		{"shuffled, no key", nil, []*x509.Certificate{r, l, i}, []string{"leaf", "intermediate", "root"}},
		{"no root", nil, []*x509.Certificate{i, l}, []string{"leaf", "intermediate"}},
		{"single", nil, []*x509.Certificate{l}, []string{"leaf"}},
		{"unrelated certificate kept at the end", nil, []*x509.Certificate{stray, i, l}, []string{"leaf", "intermediate", "stray"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, names(orderChain(tt.key, tt.certs))); diff != "" {
				t.Errorf("orderChain (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCertSecretPEM(t *testing.T) {
	ch := newTestChain(t)
	want := pkcs8PEM(t, ch.key) + certsPEM(ch.leaf, ch.inter, ch.root)
	ecDER, _ := x509.MarshalECPrivateKey(ch.key.(*ecdsa.PrivateKey))
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	tests := []struct {
		name, value, want string
	}{
		{"already normal", want, want},
		{"chain reversed, key last", certsPEM(ch.root, ch.inter, ch.leaf) + pkcs8PEM(t, ch.key), want},
		{"SEC 1 key becomes PKCS#8", pemOf("EC PRIVATE KEY", ecDER) + certsPEM(ch.inter, ch.leaf, ch.root), want},
		{"PKCS#1 key becomes PKCS#8", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)) + certsPEM(ch.leaf),
			pkcs8PEM(t, rsaKey) + certsPEM(ch.leaf)},
		{"no key", certsPEM(ch.root, ch.leaf, ch.inter), certsPEM(ch.leaf, ch.inter, ch.root)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := certSecret(FormatPEM, tt.value, contentTypePEM)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCertSecretPFX(t *testing.T) {
	ch := newTestChain(t)
	wantPEM := pkcs8PEM(t, ch.key) + certsPEM(ch.leaf, ch.inter, ch.root)
	// A PFX with the chain stored root first, as some tools write it.
	der, err := pkcs12.Legacy.Encode(ch.key, ch.root, []*x509.Certificate{ch.leaf, ch.inter}, "")
	if err != nil {
		t.Fatal(err)
	}
	pfxValue := base64.StdEncoding.EncodeToString(der)

	t.Run("pfx to pem", func(t *testing.T) {
		got, err := certSecret(FormatPEM, pfxValue, contentTypePFX)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantPEM, string(got)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("pfx as is", func(t *testing.T) {
		got, err := secretBytes(Object{Type: TypeSecret, Format: FormatPFX, Encoding: EncodingBase64}, pfxValue, contentTypePFX, true)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, der) {
			t.Error("pfx + base64 is not the stored PFX")
		}
	})
	t.Run("pem to pfx round trip", func(t *testing.T) {
		got, err := secretBytes(Object{Type: TypeSecret, Format: FormatPFX, Encoding: EncodingBase64}, wantPEM, contentTypePEM, true)
		if err != nil {
			t.Fatal(err)
		}
		key, leaf, cas, err := pkcs12.DecodeChain(got, "")
		if err != nil {
			t.Fatalf("decoding the PFX we wrote: %v", err)
		}
		if !ch.key.Public().(*ecdsa.PublicKey).Equal(key.(*ecdsa.PrivateKey).Public()) {
			t.Error("PFX key differs")
		}
		if diff := cmp.Diff([]string{"leaf", "intermediate", "root"}, names(append([]*x509.Certificate{leaf}, cas...))); diff != "" {
			t.Errorf("PFX chain (-want +got):\n%s", diff)
		}
	})
}

func TestSecretBytes(t *testing.T) {
	tests := []struct {
		name, encoding, value string
		want                  []byte
		wantErr               string
	}{
		{"utf-8 as is", EncodingUTF8, "héllo\n", []byte("héllo\n"), ""},
		{"hex", EncodingHex, "00ff10", []byte{0, 0xff, 0x10}, ""},
		{"base64", EncodingBase64, "AP8Q", []byte{0, 0xff, 0x10}, ""},
		{"bad hex", EncodingHex, "secret-zz", nil, "not valid hex"},
		{"bad base64", EncodingBase64, "secret!!", nil, "not valid base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := secretBytes(Object{Type: TypeSecret, Encoding: tt.encoding, Format: FormatPEM}, tt.value, "", false)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), tt.value) {
					t.Fatalf("error %q contains the secret value", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestPublicKeyPEM(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	kty := func(k azkeys.KeyType) *azkeys.KeyType { return &k }
	crv := func(c azkeys.CurveName) *azkeys.CurveName { return &c }
	tests := []struct {
		name string
		jwk  *azkeys.JSONWebKey
		pub  crypto.PublicKey
	}{
		{"RSA", &azkeys.JSONWebKey{Kty: kty(azkeys.KeyTypeRSA), N: rsaKey.N.Bytes(), E: big.NewInt(int64(rsaKey.E)).Bytes()}, &rsaKey.PublicKey},
		{"RSA-HSM", &azkeys.JSONWebKey{Kty: kty(azkeys.KeyTypeRSAHSM), N: rsaKey.N.Bytes(), E: big.NewInt(int64(rsaKey.E)).Bytes()}, &rsaKey.PublicKey},
	}
	for _, c := range []struct {
		name  azkeys.CurveName
		curve elliptic.Curve
	}{{azkeys.CurveNameP256, elliptic.P256()}, {azkeys.CurveNameP384, elliptic.P384()}, {azkeys.CurveNameP521, elliptic.P521()}} {
		k, _ := ecdsa.GenerateKey(c.curve, rand.Reader)
		ecdhKey, _ := k.ECDH()
		raw := ecdhKey.PublicKey().Bytes()
		size := (len(raw) - 1) / 2
		// JWK coordinates may come without leading zeros; strip them to test that.
		x := new(big.Int).SetBytes(raw[1 : 1+size]).Bytes()
		tests = append(tests, struct {
			name string
			jwk  *azkeys.JSONWebKey
			pub  crypto.PublicKey
		}{"EC " + string(c.name), &azkeys.JSONWebKey{Kty: kty(azkeys.KeyTypeEC), Crv: crv(c.name), X: x, Y: raw[1+size:]}, &k.PublicKey})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := publicKeyPEM(tt.jwk)
			if err != nil {
				t.Fatal(err)
			}
			der, err := x509.MarshalPKIXPublicKey(tt.pub)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(pemOf("PUBLIC KEY", der), string(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestPublicKeyPEMRefuses(t *testing.T) {
	kty := func(k azkeys.KeyType) *azkeys.KeyType { return &k }
	crv := func(c azkeys.CurveName) *azkeys.CurveName { return &c }
	tests := []struct {
		name string
		jwk  *azkeys.JSONWebKey
	}{
		{"nil", nil},
		{"oct", &azkeys.JSONWebKey{Kty: kty(azkeys.KeyTypeOct)}},
		{"RSA without n", &azkeys.JSONWebKey{Kty: kty(azkeys.KeyTypeRSA), E: []byte{1, 0, 1}}},
		{"EC P-256K", &azkeys.JSONWebKey{Kty: kty(azkeys.KeyTypeEC), Crv: crv(azkeys.CurveNameP256K), X: []byte{1}, Y: []byte{2}}},
		{"EC point off the curve", &azkeys.JSONWebKey{Kty: kty(azkeys.KeyTypeEC), Crv: crv(azkeys.CurveNameP256), X: []byte{1}, Y: []byte{2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := publicKeyPEM(tt.jwk); err == nil {
				t.Errorf("publicKeyPEM = %q, want an error", got)
			}
		})
	}
}

func TestCertSecretRefuses(t *testing.T) {
	ch := newTestChain(t)
	tests := []struct {
		name, format, value, contentType string
	}{
		{"unknown content type", FormatPEM, certsPEM(ch.leaf), "text/plain"},
		{"pfx not base64", FormatPEM, "!!!", contentTypePFX},
		{"pfx garbage", FormatPEM, base64.StdEncoding.EncodeToString([]byte("garbage")), contentTypePFX},
		{"pem without certificate", FormatPEM, pkcs8PEM(t, ch.key), contentTypePEM},
		{"pem with encrypted key", FormatPEM, pemOf("ENCRYPTED PRIVATE KEY", []byte{1}) + certsPEM(ch.leaf), contentTypePEM},
		{"pem to pfx without key", FormatPFX, certsPEM(ch.leaf), contentTypePEM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := certSecret(tt.format, tt.value, tt.contentType); err == nil {
				t.Errorf("certSecret = %q, want an error", got)
			}
		})
	}
}
