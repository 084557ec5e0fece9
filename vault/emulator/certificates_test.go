package emulator_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/google/go-cmp/cmp"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/secretfs/secretfs/vault/emulator"
	"github.com/secretfs/secretfs/vault/emulator/emulatortest"
)

// chain is a root → intermediate → leaf chain and the leaf's key.
type chain struct {
	root, intermediate, leaf *x509.Certificate
	leafKey                  *ecdsa.PrivateKey
}

func newChain(t *testing.T) chain {
	t.Helper()
	rootKey, rootCert := issue(t, "root", nil, nil, true)
	intKey, intCert := issue(t, "intermediate", rootCert, rootKey, true)
	leafKey, leafCert := issue(t, "leaf.example", intCert, intKey, false)
	return chain{root: rootCert, intermediate: intCert, leaf: leafCert, leafKey: leafKey}
}

// issue creates a P-256 key and a certificate for cn signed by parent (self-signed if nil).
func issue(t *testing.T, cn string, parent *x509.Certificate, parentKey crypto.Signer, ca bool) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: ca, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, c
}

func pemOf(t *testing.T, blocks ...any) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, x := range blocks {
		switch v := x.(type) {
		case *x509.Certificate:
			_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: v.Raw})
		case *ecdsa.PrivateKey:
			der, err := x509.MarshalPKCS8PrivateKey(v)
			if err != nil {
				t.Fatal(err)
			}
			_ = pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
		}
	}
	return b.Bytes()
}

// getCertAndSecret fetches a certificate version and its managed secret of the same version.
func getCertAndSecret(t *testing.T, s *emulator.Server, cred azcore.TokenCredential, name, version string) (azcertificates.GetCertificateResponse, azsecrets.GetSecretResponse) {
	t.Helper()
	cert, err := certsClient(t, s, "kv1", cred).GetCertificate(ctx(t), name, version, nil)
	if err != nil {
		t.Fatalf("GetCertificate: %v", err)
	}
	sec, err := secretsClient(t, s, "kv1", cred).GetSecret(ctx(t), name, cert.ID.Version(), nil)
	if err != nil {
		t.Fatalf("GetSecret of the certificate: %v", err)
	}
	if cert.KID.Version() != cert.ID.Version() || cert.SID.Version() != cert.ID.Version() || sec.ID.Version() != cert.ID.Version() {
		t.Errorf("versions differ: cert %s kid %s sid %s secret %s", cert.ID.Version(), cert.KID.Version(), cert.SID.Version(), sec.ID.Version())
	}
	if !deref(sec.Managed) || string(deref(sec.KID)) != string(*cert.KID) {
		t.Errorf("managed secret: managed=%v kid=%v, want true %v", deref(sec.Managed), deref(sec.KID), *cert.KID)
	}
	return cert, sec
}

func TestImportPEMKeepsChainOrder(t *testing.T) {
	s := emulatortest.Start(t)
	cred := secretCred(t, s, "app", "kv1", emulator.ReadWrite)
	ch := newChain(t)
	given := pemOf(t, ch.root, ch.leafKey, ch.leaf, ch.intermediate) // deliberately out of order

	imported, err := certsClient(t, s, "kv1", cred).ImportCertificate(ctx(t), "web", azcertificates.ImportCertificateParameters{
		Base64EncodedCertificate: new(string(given)),
		CertificatePolicy:        &azcertificates.CertificatePolicy{SecretProperties: &azcertificates.SecretProperties{ContentType: new(emulator.ContentTypePEM)}},
	}, nil)
	if err != nil {
		t.Fatalf("ImportCertificate: %v", err)
	}
	cert, sec := getCertAndSecret(t, s, cred, "web", "")
	if cert.ID.Version() != imported.ID.Version() {
		t.Errorf("latest = %s, want imported %s", cert.ID.Version(), imported.ID.Version())
	}
	if !bytes.Equal(cert.CER, ch.leaf.Raw) {
		t.Errorf("cer is not the leaf DER")
	}
	want := string(pemOf(t, ch.leafKey, ch.root, ch.leaf, ch.intermediate))
	if diff := cmp.Diff(want, deref(sec.Value)); diff != "" {
		t.Errorf("managed secret (-want +got):\n%s", diff)
	}
	if deref(sec.ContentType) != emulator.ContentTypePEM {
		t.Errorf("content type = %q", deref(sec.ContentType))
	}
}

func TestImportPFXKeepsBytes(t *testing.T) {
	s := emulatortest.Start(t)
	cred := secretCred(t, s, "app", "kv1", emulator.ReadWrite)
	ch := newChain(t)
	pfx, err := pkcs12.LegacyDES.Encode(ch.leafKey, ch.leaf, []*x509.Certificate{ch.root, ch.intermediate}, "")
	if err != nil {
		t.Fatal(err)
	}
	version, err := s.ImportCertificate("kv1", "pfx", pfx, "")
	if err != nil {
		t.Fatalf("ImportCertificate: %v", err)
	}
	cert, sec := getCertAndSecret(t, s, cred, "pfx", version)
	if !bytes.Equal(cert.CER, ch.leaf.Raw) {
		t.Errorf("cer is not the leaf DER")
	}
	if diff := cmp.Diff(base64.StdEncoding.EncodeToString(pfx), deref(sec.Value)); diff != "" {
		t.Errorf("managed secret (-want +got):\n%s", diff)
	}
	if deref(sec.ContentType) != emulator.ContentTypePFX {
		t.Errorf("content type = %q", deref(sec.ContentType))
	}
}

func TestImportPasswordPFXAsPEMWithSDK(t *testing.T) {
	s := emulatortest.Start(t)
	cred := secretCred(t, s, "app", "kv1", emulator.ReadWrite)
	ch := newChain(t)
	pfx, err := pkcs12.Modern.Encode(ch.leafKey, ch.leaf, []*x509.Certificate{ch.intermediate, ch.root}, "pw")
	if err != nil {
		t.Fatal(err)
	}
	_, err = certsClient(t, s, "kv1", cred).ImportCertificate(ctx(t), "pfx", azcertificates.ImportCertificateParameters{
		Base64EncodedCertificate: new(base64.StdEncoding.EncodeToString(pfx)),
		Password:                 new("pw"),
		CertificatePolicy:        &azcertificates.CertificatePolicy{SecretProperties: &azcertificates.SecretProperties{ContentType: new(emulator.ContentTypePEM)}},
	}, nil)
	if err != nil {
		t.Fatalf("ImportCertificate: %v", err)
	}
	_, sec := getCertAndSecret(t, s, cred, "pfx", "")
	want := string(pemOf(t, ch.leafKey, ch.leaf, ch.intermediate, ch.root))
	if diff := cmp.Diff(want, deref(sec.Value)); diff != "" {
		t.Errorf("managed secret (-want +got):\n%s", diff)
	}
}

func TestCreateSelfSignedWithSDK(t *testing.T) {
	s := emulatortest.Start(t)
	cred := secretCred(t, s, "app", "kv1", emulator.ReadWrite)
	c := certsClient(t, s, "kv1", cred)
	op, err := c.CreateCertificate(ctx(t), "self", azcertificates.CreateCertificateParameters{CertificatePolicy: &azcertificates.CertificatePolicy{
		IssuerParameters: &azcertificates.IssuerParameters{Name: new("Self")},
		KeyProperties:    &azcertificates.KeyProperties{KeyType: new(azcertificates.KeyTypeEC), Curve: new(azcertificates.CurveNameP384)},
		SecretProperties: &azcertificates.SecretProperties{ContentType: new(emulator.ContentTypePEM)},
		X509CertificateProperties: &azcertificates.X509CertificateProperties{Subject: new("CN=self.example, O=Test"),
			SubjectAlternativeNames: &azcertificates.SubjectAlternativeNames{DNSNames: []*string{new("self.example")}}},
	}}, nil)
	if err != nil {
		t.Fatalf("CreateCertificate: %v", err)
	}
	if deref(op.Status) != "completed" {
		t.Errorf("status = %q, want completed", deref(op.Status))
	}
	pending, err := c.GetCertificateOperation(ctx(t), "self", nil)
	if err != nil || deref(pending.Status) != "completed" {
		t.Errorf("GetCertificateOperation = %v, %v", deref(pending.Status), err)
	}
	cert, sec := getCertAndSecret(t, s, cred, "self", "")
	leaf, err := x509.ParseCertificate(cert.CER)
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Subject.CommonName != "self.example" || leaf.DNSNames[0] != "self.example" {
		t.Errorf("subject %v, SANs %v", leaf.Subject, leaf.DNSNames)
	}
	block, rest := pem.Decode([]byte(deref(sec.Value)))
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("managed secret does not start with a PKCS#8 key: %v", err)
	}
	if !key.(*ecdsa.PrivateKey).PublicKey.Equal(leaf.PublicKey) {
		t.Errorf("managed key does not match the certificate")
	}
	if next, _ := pem.Decode(rest); next == nil || !bytes.Equal(next.Bytes, leaf.Raw) {
		t.Errorf("managed secret does not carry the certificate after the key")
	}
}

func TestSeededSelfSignedPFX(t *testing.T) {
	s := emulatortest.Start(t)
	cred := secretCred(t, s, "app", "kv1", emulator.Read)
	v1, err := s.CreateSelfSignedCertificate("kv1", "seeded", "CN=seeded", emulator.ContentTypePFX)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := s.CreateSelfSignedCertificate("kv1", "seeded", "CN=seeded", "")
	if err != nil {
		t.Fatal(err)
	}
	cert, sec := getCertAndSecret(t, s, cred, "seeded", v1)
	pfx, err := base64.StdEncoding.DecodeString(deref(sec.Value))
	if err != nil {
		t.Fatal(err)
	}
	_, leaf, _, err := pkcs12.DecodeChain(pfx, "")
	if err != nil {
		t.Fatalf("managed PFX with empty password: %v", err)
	}
	if !bytes.Equal(leaf.Raw, cert.CER) {
		t.Errorf("PFX leaf differs from cer")
	}
	var got []string
	for pager := certsClient(t, s, "kv1", cred).NewListCertificatePropertiesVersionsPager("seeded", nil); pager.More(); {
		page, err := pager.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Value {
			got = append(got, p.ID.Version())
		}
	}
	if diff := cmp.Diff([]string{v1, v2}, got); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
	if _, err := s.ImportCertificate("kv1", "bad", []byte("not a certificate"), ""); err == nil {
		t.Errorf("importing garbage succeeded")
	}
}
