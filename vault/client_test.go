package vault_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/secretfs/secretfs/vault"
	"github.com/secretfs/secretfs/vault/emulator"
	"github.com/secretfs/secretfs/vault/emulator/emulatortest"
)

const (
	spID     = "sp-1"
	spSecret = "sp-secret-value-1"
	kv       = "kv1"
)

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// params parses a SecretProviderClass for the emulator's custom cloud, exactly
// as a user on a custom cloud configures it.
func params(t *testing.T, s *emulator.Server, extra map[string]string, objects ...string) *vault.Params {
	t.Helper()
	m := map[string]string{
		"keyvaultName":     kv,
		"tenantID":         s.TenantID(),
		"cloudName":        "AzureStackCloud",
		"cloudEnvFileName": s.CloudEnvFile(),
		"objects":          objectsYAML(objects...),
	}
	for k, v := range extra {
		m[k] = v
	}
	p, err := vault.ParseParameters(ctx(t), m, vault.ParseOptions{CloudEnvDir: filepath.Dir(s.CloudEnvFile())})
	if err != nil {
		t.Fatalf("ParseParameters: %v", err)
	}
	return p
}

func objectsYAML(entries ...string) string {
	var b strings.Builder
	b.WriteString("array:\n")
	for _, e := range entries {
		b.WriteString("  - |\n")
		for _, line := range strings.Split(strings.TrimSpace(e), "\n") {
			b.WriteString("    " + line + "\n")
		}
	}
	return b.String()
}

// spClient is a Client for kv1 with the service principal's credential.
func spClient(t *testing.T, s *emulator.Server, p *vault.Params) *vault.Client {
	t.Helper()
	return clientFor(t, s, p, vault.PodCredentials{ClientID: spID, ClientSecret: spSecret})
}

func clientFor(t *testing.T, s *emulator.Server, p *vault.Params, pc vault.PodCredentials) *vault.Client {
	t.Helper()
	cred, _, err := vault.NewCredential(p, pc, vault.CredentialOptions{Transport: s.HTTPClient()})
	if err != nil {
		t.Fatalf("NewCredential: %v", err)
	}
	c, err := vault.NewClient(p.VaultURL(), cred, vault.ClientOptions{Transport: s.HTTPClient()})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func startWithSP(t *testing.T) *emulator.Server {
	t.Helper()
	s := emulatortest.Start(t)
	s.AddServicePrincipal(spID, spSecret)
	s.Grant(spID, kv, emulator.Read)
	return s
}

// chain is a leaf (with its key) issued by an intermediate issued by a root.
type chain struct {
	key               crypto.Signer
	leaf, inter, root *x509.Certificate
}

func newChain(t *testing.T, leafKey crypto.Signer) chain {
	t.Helper()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	interKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	root := issueCert(t, "root", rootKey, nil, rootKey)
	inter := issueCert(t, "intermediate", interKey, root, rootKey)
	return chain{key: leafKey, leaf: issueCert(t, "leaf", leafKey, inter, interKey), inter: inter, root: root}
}

func issueCert(t *testing.T, cn string, key crypto.Signer, parent *x509.Certificate, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	sn, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: sn, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: cn != "leaf", BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func pemBlock(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func keyPEM(t *testing.T, k crypto.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("PRIVATE KEY", der)
}

func certPEM(certs ...*x509.Certificate) string {
	var s string
	for _, c := range certs {
		s += pemBlock("CERTIFICATE", c.Raw)
	}
	return s
}

func pubPEM(t *testing.T, k crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("PUBLIC KEY", der)
}

func TestVaultURLMatchesEmulator(t *testing.T) {
	s := emulatortest.Start(t)
	p := params(t, s, nil, "objectName: a\nobjectType: secret")
	if diff := cmp.Diff(strings.TrimSuffix(s.VaultURL(kv), "/"), strings.TrimSuffix(p.VaultURL(), "/")); diff != "" {
		t.Errorf("VaultURL (-emulator +ours):\n%s", diff)
	}
}

// TestFetchBytes checks every type and format byte for byte against what the
// Azure provider writes, for objects created in the emulator.
func TestFetchBytes(t *testing.T) {
	s := startWithSP(t)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ch := newChain(t, rsaKey)
	wantPEM := keyPEM(t, rsaKey) + certPEM(ch.leaf, ch.inter, ch.root)
	// Stored in an order no tool should produce: root, key, leaf, intermediate.
	shuffled := certPEM(ch.root) + keyPEM(t, rsaKey) + certPEM(ch.leaf, ch.inter)
	pfx, err := pkcs12.Legacy.Encode(rsaKey, ch.inter, []*x509.Certificate{ch.root, ch.leaf}, "")
	if err != nil {
		t.Fatal(err)
	}
	mustImport := func(name string, data []byte, ct string) {
		if _, err := s.ImportCertificate(kv, name, data, ct); err != nil {
			t.Fatal(err)
		}
	}
	mustImport("pem-cert", []byte(shuffled), emulator.ContentTypePEM)
	mustImport("pfx-cert", pfx, emulator.ContentTypePFX)
	s.SetSecret(kv, "plain", "héllo wörld\n", "")
	s.SetSecret(kv, "hexed", hex.EncodeToString([]byte{0, 1, 0xfe, 0xff}), "")
	s.SetSecret(kv, "b64", base64.StdEncoding.EncodeToString([]byte{0, 1, 0xfe, 0xff}), "")
	s.SetSecret(kv, "pem-text", shuffled, emulator.ContentTypePEM) // not certificate-backed: as is

	tests := []struct {
		name, object string
		want         []byte
	}{
		{"secret utf-8", "objectName: plain\nobjectType: secret", []byte("héllo wörld\n")},
		{"secret hex", "objectName: hexed\nobjectType: secret\nobjectEncoding: hex", []byte{0, 1, 0xfe, 0xff}},
		{"secret base64", "objectName: b64\nobjectType: secret\nobjectEncoding: base64", []byte{0, 1, 0xfe, 0xff}},
		{"plain secret with a PEM content type stays as is", "objectName: pem-text\nobjectType: secret", []byte(shuffled)},
		{"PEM-backed certificate secret: key, then chain leaf to root", "objectName: pem-cert\nobjectType: secret", []byte(wantPEM)},
		{"PFX-backed certificate secret as PEM", "objectName: pfx-cert\nobjectType: secret", []byte(wantPEM)},
		{"PFX-backed certificate secret as PFX binary", "objectName: pfx-cert\nobjectType: secret\nobjectFormat: pfx\nobjectEncoding: base64", pfx},
		{"PFX-backed certificate secret as PFX text, as upstream", "objectName: pfx-cert\nobjectType: secret\nobjectFormat: PFX", []byte(base64.StdEncoding.EncodeToString(pfx))},
		{"cert is the leaf", "objectName: pem-cert\nobjectType: cert", []byte(certPEM(ch.leaf))},
		{"cert of PFX is the leaf", "objectName: pfx-cert\nobjectType: cert", []byte(certPEM(ch.leaf))},
		{"key of a certificate is its public key", "objectName: pem-cert\nobjectType: key", []byte(pubPEM(t, rsaKey.Public()))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := params(t, s, nil, tt.object)
			got, err := spClient(t, s, p).Fetch(ctx(t), p.Objects[0], "")
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if !bytes.Equal(tt.want, got.Bytes) {
				t.Errorf("Fetch bytes differ (-want +got):\n%s", cmp.Diff(string(tt.want), string(got.Bytes)))
			}
			if got.Version == "" {
				t.Error("Fetch returned no version")
			}
		})
	}
}

func TestFetchPEMBackedAsPFX(t *testing.T) {
	s := startWithSP(t)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ch := newChain(t, ecKey)
	if _, err := s.ImportCertificate(kv, "c", []byte(certPEM(ch.inter)+keyPEM(t, ecKey)+certPEM(ch.root, ch.leaf)), emulator.ContentTypePEM); err != nil {
		t.Fatal(err)
	}
	p := params(t, s, nil, "objectName: c\nobjectType: secret\nobjectFormat: pfx\nobjectEncoding: base64")
	got, err := spClient(t, s, p).Fetch(ctx(t), p.Objects[0], "")
	if err != nil {
		t.Fatal(err)
	}
	key, leaf, cas, err := pkcs12.DecodeChain(got.Bytes, "")
	if err != nil {
		t.Fatalf("the PFX does not decode with an empty password: %v", err)
	}
	if !ecKey.PublicKey.Equal(key.(crypto.Signer).Public()) {
		t.Error("PFX holds another key")
	}
	if diff := cmp.Diff(certPEM(ch.leaf, ch.inter, ch.root), certPEM(append([]*x509.Certificate{leaf}, cas...)...)); diff != "" {
		t.Errorf("PFX chain (-want +got):\n%s", diff)
	}
}

// TestFetchPublicKeys: RSA and EC P-256/384/521, through keys Key Vault holds
// for imported certificates (whose private keys the test knows) and keys it created.
func TestFetchPublicKeys(t *testing.T) {
	s := startWithSP(t)
	keys := map[string]crypto.Signer{}
	keys["rsa"], _ = rsa.GenerateKey(rand.Reader, 2048)
	keys["p256"], _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys["p384"], _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	keys["p521"], _ = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	for name, k := range keys {
		ch := newChain(t, k)
		if _, err := s.ImportCertificate(kv, name, []byte(keyPEM(t, k)+certPEM(ch.leaf)), emulator.ContentTypePEM); err != nil {
			t.Fatal(err)
		}
	}
	for name, k := range keys {
		t.Run(name, func(t *testing.T) {
			p := params(t, s, nil, "objectName: "+name+"\nobjectType: key")
			got, err := spClient(t, s, p).Fetch(ctx(t), p.Objects[0], "")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(pubPEM(t, k.Public()), string(got.Bytes)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	created := []struct {
		kt   emulator.KeyType
		want string
	}{{emulator.KeyRSA2048, "*rsa.PublicKey 2048"}, {emulator.KeyECP256, "*ecdsa.PublicKey P-256"},
		{emulator.KeyECP384, "*ecdsa.PublicKey P-384"}, {emulator.KeyECP521, "*ecdsa.PublicKey P-521"}}
	for _, c := range created {
		t.Run("created "+string(c.kt), func(t *testing.T) {
			v := s.CreateKey(kv, "k"+strings.ReplaceAll(string(c.kt), "-", ""), c.kt)
			p := params(t, s, nil, "objectName: k"+strings.ReplaceAll(string(c.kt), "-", "")+"\nobjectType: key")
			got, err := spClient(t, s, p).Fetch(ctx(t), p.Objects[0], "")
			if err != nil {
				t.Fatal(err)
			}
			block, rest := pem.Decode(got.Bytes)
			if block == nil || block.Type != "PUBLIC KEY" || len(rest) != 0 {
				t.Fatalf("not one PUBLIC KEY block: %q", got.Bytes)
			}
			pub, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, describeKey(pub)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if got.Version != v {
				t.Errorf("version = %q, want %q", got.Version, v)
			}
		})
	}
}

func describeKey(pub any) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "*rsa.PublicKey " + big.NewInt(int64(k.N.BitLen())).String()
	case *ecdsa.PublicKey:
		return "*ecdsa.PublicKey " + k.Curve.Params().Name
	}
	return "other"
}

func TestVersionsAndPinnedFetch(t *testing.T) {
	s := startWithSP(t)
	var versions []string
	for i := range 6 {
		versions = append(versions, s.SetSecret(kv, "rot", "value-"+string(rune('0'+i)), ""))
	}
	s.DisableSecretVersion(kv, "rot", versions[4])
	p := params(t, s, nil, "objectName: rot\nobjectType: secret\nobjectVersionHistory: 3")
	c := spClient(t, s, p)
	o := p.Objects[0]
	tests := []struct {
		n    int
		want []string
	}{
		{3, []string{versions[5], versions[3], versions[2]}},
		{1, []string{versions[5]}},
		{5, []string{versions[5], versions[3], versions[2], versions[1], versions[0]}},
		{50, []string{versions[5], versions[3], versions[2], versions[1], versions[0]}},
		{0, nil},
	}
	for _, tt := range tests {
		got, err := c.Versions(ctx(t), o, tt.n)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Versions(%d) (-want +got):\n%s", tt.n, diff)
		}
	}
	for i, f := range p.Files() {
		got, err := c.Fetch(ctx(t), f.Object, tests[0].want[f.History])
		if err != nil {
			t.Fatal(err)
		}
		want := vault.Content{Bytes: []byte("value-" + string(rune('0'+[]int{5, 3, 2}[i]))), Version: tests[0].want[i]}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", f.Path, diff)
		}
	}
}

func TestVersionsKeysAndCerts(t *testing.T) {
	s := startWithSP(t)
	var keyVersions, certVersions []string
	for range 3 {
		keyVersions = append(keyVersions, s.CreateKey(kv, "k", emulator.KeyECP256))
		v, err := s.CreateSelfSignedCertificate(kv, "c", "CN=c", emulator.ContentTypePFX)
		if err != nil {
			t.Fatal(err)
		}
		certVersions = append(certVersions, v)
	}
	p := params(t, s, nil, "objectName: k\nobjectType: key\nobjectVersionHistory: 2", "objectName: c\nobjectType: cert\nobjectVersionHistory: 2")
	c := spClient(t, s, p)
	for i, want := range [][]string{{keyVersions[2], keyVersions[1]}, {certVersions[2], certVersions[1]}} {
		got, err := c.Versions(ctx(t), p.Objects[i], 2)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Versions(%s) (-want +got):\n%s", p.Objects[i].Name, diff)
		}
	}
}

func TestFetchErrors(t *testing.T) {
	s := startWithSP(t)
	s.SetSecret(kv, "a", "the-secret-value", "")
	s.SetSecret(kv, "not-hex", "the-secret-value", "")
	tests := []struct {
		name   string
		setup  func()
		object string
		pc     vault.PodCredentials
		class  error
		want   []string
	}{
		{"not found", nil, "objectName: missing\nobjectType: secret", vault.PodCredentials{ClientID: spID, ClientSecret: spSecret},
			vault.ErrNotFound, []string{`key vault "kv1"`, `secret "missing"`, "404"}},
		{"no grant", func() { s.Revoke(spID, kv) }, "objectName: a\nobjectType: secret", vault.PodCredentials{ClientID: spID, ClientSecret: spSecret},
			vault.ErrAccessDenied, []string{`key vault "kv1"`, `secret "a"`, "403"}},
		{"wrong client secret", nil, "objectName: a\nobjectType: secret", vault.PodCredentials{ClientID: spID, ClientSecret: "wrong-secret"},
			vault.ErrAccessDenied, []string{`key vault "kv1"`, "authentication failed", "invalid_client"}},
		{"unknown client", nil, "objectName: a\nobjectType: secret", vault.PodCredentials{ClientID: "nobody", ClientSecret: "x"},
			vault.ErrAccessDenied, []string{"authentication failed"}},
		{"value is not hex", nil, "objectName: not-hex\nobjectType: secret\nobjectEncoding: hex", vault.PodCredentials{ClientID: spID, ClientSecret: spSecret},
			vault.ErrInvalid, []string{`secret "not-hex"`, "not valid hex"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
				t.Cleanup(func() { s.Grant(spID, kv, emulator.Read) })
			}
			p := params(t, s, nil, tt.object)
			_, err := clientFor(t, s, p, tt.pc).Fetch(ctx(t), p.Objects[0], "")
			t.Log(err)
			if !errors.Is(err, tt.class) {
				t.Fatalf("Fetch error = %v, want %v", err, tt.class)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			for _, secret := range []string{"the-secret-value", spSecret, "wrong-secret"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains a secret", err)
				}
			}
		})
	}
}

// TestThrottled: a 429 comes back at once (no SDK retries) with its Retry-After.
func TestThrottled(t *testing.T) {
	s := startWithSP(t)
	s.SetSecret(kv, "a", "v", "")
	p := params(t, s, nil, "objectName: a\nobjectType: secret")
	c := spClient(t, s, p)
	if _, err := c.Fetch(ctx(t), p.Objects[0], ""); err != nil { // warm the token
		t.Fatal(err)
	}
	s.ResetCounts()
	s.SetFault(emulator.Fault{Status: 429, RetryAfter: 7 * time.Second})
	_, err := c.Fetch(ctx(t), p.Objects[0], "")
	if !errors.Is(err, vault.ErrThrottled) {
		t.Fatalf("Fetch error = %v, want ErrThrottled", err)
	}
	d, ok := vault.RetryAfter(err)
	if diff := cmp.Diff([]any{7 * time.Second, true, 1}, []any{d, ok, s.Count("GetSecret")}); diff != "" {
		t.Errorf("RetryAfter, ok, GET count (-want +got):\n%s", diff)
	}
	if _, ok := vault.RetryAfter(errors.New("other")); ok {
		t.Error("RetryAfter of a plain error reports ok")
	}
}

func TestOutageIsUnavailable(t *testing.T) {
	s := startWithSP(t)
	s.SetSecret(kv, "a", "v", "")
	p := params(t, s, nil, "objectName: a\nobjectType: secret")
	c := spClient(t, s, p)
	s.SetOutage(true)
	short, cancel := context.WithTimeout(ctx(t), 500*time.Millisecond)
	defer cancel()
	_, err := c.Fetch(short, p.Objects[0], "")
	if !errors.Is(err, vault.ErrUnavailable) {
		t.Fatalf("Fetch error = %v, want ErrUnavailable", err)
	}
}
