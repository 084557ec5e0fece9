package emulator

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// Content types of a certificate's managed secret.
const (
	ContentTypePFX = "application/x-pkcs12"
	ContentTypePEM = "application/x-pem-file"
)

// errCertificate is returned for certificate material the emulator cannot use.
var errCertificate = errors.New("invalid certificate material")

// certMaterial is a private key and its chain in the order it was given; private: never log it.
type certMaterial struct {
	key   crypto.Signer
	chain []*x509.Certificate // as given: the leaf need not be first
	leaf  *x509.Certificate
	pfx   []byte // the PFX as given (empty password), or nil
}

// parseCertMaterial reads PEM (key + certificates, any order) or a PFX protected by password.
func parseCertMaterial(data []byte, password string) (*certMaterial, error) {
	var m *certMaterial
	var err error
	if bytes.Contains(data, []byte("-----BEGIN")) {
		m, err = parsePEMMaterial(data)
	} else {
		m, err = parsePFXMaterial(data, password)
	}
	if err != nil {
		return nil, err
	}
	if m.leaf = findLeaf(m.key, m.chain); m.leaf == nil {
		return nil, fmt.Errorf("%w: no certificate matches the private key", errCertificate)
	}
	return m, nil
}

func parsePEMMaterial(data []byte) (*certMaterial, error) {
	m := &certMaterial{}
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: parse certificate: %w", errCertificate, err)
			}
			m.chain = append(m.chain, c)
		} else if strings.HasSuffix(block.Type, "PRIVATE KEY") {
			k, err := parsePrivateKey(block)
			if err != nil {
				return nil, err
			}
			m.key = k
		}
	}
	if m.key == nil || len(m.chain) == 0 {
		return nil, fmt.Errorf("%w: PEM needs a private key and at least one certificate", errCertificate)
	}
	return m, nil
}

// parsePrivateKey reads PKCS#8, PKCS#1 (RSA) or SEC 1 (EC) keys.
func parsePrivateKey(block *pem.Block) (crypto.Signer, error) {
	var k any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: parse %s: %w", errCertificate, block.Type, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: unsupported private key %T", errCertificate, k)
	}
	return signer, nil
}

func parsePFXMaterial(data []byte, password string) (*certMaterial, error) {
	k, leaf, cas, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		return nil, fmt.Errorf("%w: decode PFX: %w", errCertificate, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: unsupported private key %T", errCertificate, k)
	}
	m := &certMaterial{key: signer, chain: append([]*x509.Certificate{leaf}, cas...)}
	if password == "" {
		m.pfx = data
	}
	return m, nil
}

// findLeaf returns the certificate whose public key is key's.
func findLeaf(key crypto.Signer, chain []*x509.Certificate) *x509.Certificate {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := key.Public().(equaler)
	if !ok {
		return nil
	}
	for _, c := range chain {
		if pub.Equal(c.PublicKey) {
			return c
		}
	}
	return nil
}

// secretValue is the managed secret's value: base64 PFX with an empty password (the given bytes if
// they already were one), or PEM with the PKCS#8 key first and the chain in the order given.
func (m *certMaterial) secretValue(contentType string) (string, error) {
	if contentType == ContentTypePEM {
		der, err := x509.MarshalPKCS8PrivateKey(m.key)
		if err != nil {
			return "", fmt.Errorf("%w: marshal PKCS#8: %w", errCertificate, err)
		}
		var b bytes.Buffer
		_ = pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
		for _, c := range m.chain {
			_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		}
		return b.String(), nil
	}
	if m.pfx != nil {
		return base64.StdEncoding.EncodeToString(m.pfx), nil
	}
	var cas []*x509.Certificate
	for _, c := range m.chain {
		if c != m.leaf {
			cas = append(cas, c)
		}
	}
	pfx, err := pkcs12.LegacyDES.Encode(m.key, m.leaf, cas, "")
	if err != nil {
		return "", fmt.Errorf("%w: encode PFX: %w", errCertificate, err)
	}
	return base64.StdEncoding.EncodeToString(pfx), nil
}

// keyProps describes m's key as a certificate policy's key_props.
func (m *certMaterial) keyProps() *keyProps {
	switch k := m.key.Public().(type) {
	case *rsa.PublicKey:
		return &keyProps{Exportable: true, Kty: "RSA", KeySize: k.N.BitLen()}
	case *ecdsa.PublicKey:
		return &keyProps{Exportable: true, Kty: "EC", Crv: k.Curve.Params().Name}
	}
	return &keyProps{Exportable: true}
}

// thumbprint is the certificate's SHA-1 x5t, unpadded base64url.
func thumbprint(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw)
	return b64url.EncodeToString(sum[:])
}

// selfSigned issues a self-signed certificate (and a CSR, as Key Vault's pending operation shows).
func selfSigned(key crypto.Signer, subject pkix.Name, dnsNames []string, months int) (*certMaterial, []byte, error) {
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               subject,
		DNSNames:              dnsNames,
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.AddDate(0, months, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("create self-signed certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse self-signed certificate: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject, DNSNames: dnsNames}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CSR: %w", err)
	}
	return &certMaterial{key: key, chain: []*x509.Certificate{leaf}, leaf: leaf}, csr, nil
}

// parseSubject reads a subject such as "CN=app.example, O=Contoso, C=US".
func parseSubject(s string) (pkix.Name, error) {
	var n pkix.Name
	for part := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return n, fmt.Errorf("%w: subject part %q is not KEY=value", errCertificate, part)
		}
		switch v = strings.TrimSpace(v); strings.ToUpper(strings.TrimSpace(k)) {
		case "CN":
			n.CommonName = v
		case "O":
			n.Organization = append(n.Organization, v)
		case "OU":
			n.OrganizationalUnit = append(n.OrganizationalUnit, v)
		case "L":
			n.Locality = append(n.Locality, v)
		case "ST", "S":
			n.Province = append(n.Province, v)
		case "C":
			n.Country = append(n.Country, v)
		default:
			return n, fmt.Errorf("%w: subject attribute %q not supported", errCertificate, k)
		}
	}
	return n, nil
}
