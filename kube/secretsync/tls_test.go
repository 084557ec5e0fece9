package secretsync

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"software.sslmate.com/src/go-pkcs12"
)

// chain is a leaf signed by a CA, with the leaf's key.
type chain struct {
	key      crypto.Signer
	leaf, ca *x509.Certificate
}

func newChain(t *testing.T, key crypto.Signer) chain {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := func(cn string, serial int64) *x509.Certificate {
		return &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		}
	}
	caT := tmpl("ca", 1)
	caT.IsCA, caT.BasicConstraintsValid, caT.KeyUsage = true, true, x509.KeyUsageCertSign
	caDER, err := x509.CreateCertificate(rand.Reader, caT, caT, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafDER, err := x509.CreateCertificate(rand.Reader, tmpl("leaf", 2), ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	return chain{key: key, leaf: leaf, ca: ca}
}

func (c chain) certsPEM() []byte {
	return append(pemBlock("CERTIFICATE", c.leaf.Raw), pemBlock("CERTIFICATE", c.ca.Raw)...)
}

// bundle is what the volume mounts for a certificate's secret: the PKCS#8
// key, then the chain leaf → root.
func (c chain) bundle(t *testing.T) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		t.Fatal(err)
	}
	return append(pemBlock("PRIVATE KEY", der), c.certsPEM()...)
}

func (c chain) pfx(t *testing.T) []byte {
	t.Helper()
	b, err := pkcs12.LegacyDES.Encode(c.key, c.leaf, []*x509.Certificate{c.ca}, "")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func blockTypes(b []byte) []string {
	var types []string
	for {
		block, rest := pem.Decode(b)
		if block == nil {
			return types
		}
		types = append(types, block.Type)
		b = rest
	}
}

func TestTLSPartMatchesUpstream(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaChain, ecChain := newChain(t, rsaKey), newChain(t, ecKey)
	for _, tc := range []struct {
		name    string
		c       chain
		file    []byte
		keyType string
	}{
		{"RSA PEM bundle", rsaChain, rsaChain.bundle(t), "RSA PRIVATE KEY"},
		{"EC PEM bundle", ecChain, ecChain.bundle(t), "EC PRIVATE KEY"},
		{"RSA PKCS#1 key first", rsaChain, append(pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), rsaChain.certsPEM()...), "RSA PRIVATE KEY"},
		{"binary PFX (objectFormat pfx, objectEncoding base64)", rsaChain, rsaChain.pfx(t), "RSA PRIVATE KEY"},
		{"base64 PFX text (objectFormat pfx)", ecChain, []byte(base64.StdEncoding.EncodeToString(ecChain.pfx(t))), "EC PRIVATE KEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			crt, err := tlsPart(tc.file, "tls.crt")
			if err != nil {
				t.Fatalf("tls.crt: %v", err)
			}
			if !bytes.Equal(crt, tc.c.certsPEM()) {
				t.Errorf("tls.crt is not the chain leaf → root as PEM; block types %v", blockTypes(crt))
			}
			key, err := tlsPart(tc.file, "tls.key")
			if err != nil {
				t.Fatalf("tls.key: %v", err)
			}
			if diff := cmp.Diff([]string{tc.keyType}, blockTypes(key)); diff != "" {
				t.Errorf("tls.key blocks (-want +got):\n%s", diff)
			}
			if _, err := tls.X509KeyPair(crt, key); err != nil {
				t.Errorf("tls.crt and tls.key do not form a key pair: %v", err)
			}
		})
	}
}

func TestTLSPartRefuses(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	c := newChain(t, rsaKey)
	for _, tc := range []struct {
		name, key string
		file      []byte
		want      error // nil: any error
	}{
		{"other key", "ca.crt", c.bundle(t), errTLSKey},
		{"certificate only (objectType cert) for tls.key", "tls.key", c.certsPEM(), nil},
		{"key only for tls.crt", "tls.crt", pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), nil},
		{"plain text", "tls.crt", []byte("not a certificate"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tlsPart(tc.file, tc.key)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			if bytes.Contains([]byte(err.Error()), []byte("PRIVATE KEY-----")) {
				t.Errorf("error quotes the content: %v", err)
			}
		})
	}
}
