package vault

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// The content types Key Vault gives the secret behind a certificate.
const (
	contentTypePFX = "application/x-pkcs12"
	contentTypePEM = "application/x-pem-file"
)

// secretBytes turns a secret's value into file bytes, as the Azure provider does:
// a certificate's secret (certBacked: it has a key ID) becomes PEM (PKCS#8 key,
// then the chain leaf → root) or, with objectFormat pfx, base64 PFX text; then
// objectEncoding decodes the text (so pfx + base64 gives the binary PFX).
// Errors never include the value.
func secretBytes(o Object, value, contentType string, certBacked bool) ([]byte, error) {
	text := []byte(value)
	if certBacked {
		var err error
		if text, err = certSecret(o.Format, value, contentType); err != nil {
			return nil, err
		}
	}
	return decode(o.Encoding, text)
}

// certSecret converts a certificate's secret to the requested format.
func certSecret(format, value, contentType string) ([]byte, error) {
	switch contentType {
	case contentTypePFX:
		if format == FormatPFX {
			return []byte(value), nil
		}
		key, chain, err := decodePFX(value)
		if err != nil {
			return nil, err
		}
		return encodePEM(key, chain)
	case contentTypePEM:
		key, chain, err := decodePEM([]byte(value))
		if err != nil {
			return nil, err
		}
		if format == FormatPFX {
			return encodePFX(key, chain)
		}
		return encodePEM(key, chain)
	}
	return nil, fmt.Errorf("certificate secret has content type %q; want %s or %s", contentType, contentTypePFX, contentTypePEM)
}

// decode applies objectEncoding to the text.
func decode(encoding string, text []byte) ([]byte, error) {
	switch encoding {
	case EncodingBase64:
		out := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
		n, err := base64.StdEncoding.Decode(out, text)
		if err != nil {
			return nil, errors.New("objectEncoding base64: the value is not valid base64")
		}
		return out[:n], nil
	case EncodingHex:
		out := make([]byte, hex.DecodedLen(len(text)))
		if _, err := hex.Decode(out, text); err != nil {
			return nil, errors.New("objectEncoding hex: the value is not valid hex")
		}
		return out, nil
	}
	return text, nil
}

// decodePFX reads a base64 PFX with an empty password, as Key Vault stores it.
func decodePFX(value string) (crypto.PrivateKey, []*x509.Certificate, error) {
	der, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return nil, nil, errors.New("certificate secret: PFX is not valid base64")
	}
	key, leaf, cas, err := pkcs12.DecodeChain(der, "")
	if err != nil {
		// A certificate whose key is not exportable has no key bag.
		certs, terr := pkcs12.DecodeTrustStore(der, "")
		if terr != nil {
			return nil, nil, fmt.Errorf("certificate secret: PFX: %w", err)
		}
		return nil, certs, nil
	}
	return key, append([]*x509.Certificate{leaf}, cas...), nil
}

// decodePEM reads a private key (PKCS#8, PKCS#1 or SEC 1) and certificates.
func decodePEM(data []byte) (crypto.PrivateKey, []*x509.Certificate, error) {
	var key crypto.PrivateKey
	var certs []*x509.Certificate
	for n := 0; ; n++ {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("certificate secret: PEM block %d: %w", n, err)
			}
			certs = append(certs, c)
			continue
		}
		if key != nil {
			return nil, nil, fmt.Errorf("certificate secret: PEM block %d: a second %q block; expected one private key", n, b.Type)
		}
		k, err := parsePrivateKey(b)
		if err != nil {
			return nil, nil, fmt.Errorf("certificate secret: PEM block %d: %w", n, err)
		}
		key = k
	}
	if len(certs) == 0 {
		return nil, nil, errors.New("certificate secret: PEM has no CERTIFICATE block")
	}
	return key, certs, nil
}

// parsePrivateKey accepts the key encodings found in the wild. The error names
// the block type only: a parse error could quote key bytes.
func parsePrivateKey(b *pem.Block) (crypto.PrivateKey, error) {
	var k any
	var err error
	switch b.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("unexpected PEM block %q (want CERTIFICATE or an unencrypted private key)", b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot parse the %q block", b.Type)
	}
	return k, nil
}

// encodePEM writes the key as PKCS#8 "PRIVATE KEY" (whatever it was stored as)
// followed by the chain ordered leaf → root.
func encodePEM(key crypto.PrivateKey, certs []*x509.Certificate) ([]byte, error) {
	var buf bytes.Buffer
	if key != nil {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, fmt.Errorf("certificate secret: private key: %w", err)
		}
		_ = pem.Encode(&buf, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	for _, c := range orderChain(key, certs) {
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return buf.Bytes(), nil
}

// encodePFX builds the PFX a PEM-backed certificate would have had: empty
// password, legacy (3DES) algorithms as Key Vault's own PFX exports use, for
// the Java and .NET versions that read nothing newer. Returned as base64 text,
// the form a PFX-backed secret's value has, so objectEncoding applies alike.
func encodePFX(key crypto.PrivateKey, certs []*x509.Certificate) ([]byte, error) {
	if key == nil {
		return nil, errors.New("certificate secret: objectFormat pfx needs the private key, and this certificate's PEM has none")
	}
	chain := orderChain(key, certs)
	der, err := pkcs12.Legacy.Encode(key, chain[0], chain[1:], "")
	if err != nil {
		return nil, fmt.Errorf("certificate secret: encoding PFX: %w", err)
	}
	return []byte(base64.StdEncoding.EncodeToString(der)), nil
}

// orderChain orders certificates leaf → root. A certificate's parent is another
// whose subject is its issuer (and whose subject key ID is its authority key ID,
// when both are present). The leaf is the certificate of the private key, or
// else the one that is nobody's parent. Certificates off the leaf's path are
// kept, after it, in their original order: nothing is dropped.
func orderChain(key crypto.PrivateKey, certs []*x509.Certificate) []*x509.Certificate {
	if len(certs) < 2 {
		return certs
	}
	parent := make([]int, len(certs))
	isParent := make([]bool, len(certs))
	for i, c := range certs {
		parent[i] = -1
		for j, p := range certs {
			if i != j && issuedBy(c, p) {
				parent[i], isParent[j] = j, true
				break
			}
		}
	}
	out := make([]*x509.Certificate, 0, len(certs))
	used := make([]bool, len(certs))
	for i := leafIndex(key, certs, parent, isParent); i >= 0 && !used[i]; i = parent[i] {
		out, used[i] = append(out, certs[i]), true
	}
	for i, c := range certs {
		if !used[i] {
			out = append(out, c)
		}
	}
	return out
}

func issuedBy(c, p *x509.Certificate) bool {
	if !bytes.Equal(c.RawIssuer, p.RawSubject) {
		return false
	}
	return len(c.AuthorityKeyId) == 0 || len(p.SubjectKeyId) == 0 || bytes.Equal(c.AuthorityKeyId, p.SubjectKeyId)
}

func leafIndex(key crypto.PrivateKey, certs []*x509.Certificate, parent []int, isParent []bool) int {
	if s, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		pub := s.Public()
		for i, c := range certs {
			if k, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); ok && k.Equal(pub) {
				return i
			}
		}
	}
	// Without a key, the leaf is the end of the longest chain.
	best, bestLen := 0, -1
	for i := range certs {
		if isParent[i] {
			continue
		}
		n := 0
		for j := i; j >= 0 && n <= len(certs); j = parent[j] {
			n++
		}
		if n > bestLen {
			best, bestLen = i, n
		}
	}
	return best
}

// publicKeyPEM writes a Key Vault key's public half as PKIX "PUBLIC KEY" PEM,
// as the provider does for RSA and EC (P-256, P-384, P-521) keys.
func publicKeyPEM(k *azkeys.JSONWebKey) ([]byte, error) {
	if k == nil || k.Kty == nil {
		return nil, errors.New("key has no key type")
	}
	var pub crypto.PublicKey
	switch *k.Kty {
	case azkeys.KeyTypeRSA, azkeys.KeyTypeRSAHSM:
		if len(k.N) == 0 || len(k.E) == 0 || len(k.E) > 4 {
			return nil, errors.New("RSA key without a valid n and e")
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(k.N), E: int(new(big.Int).SetBytes(k.E).Int64())}
	case azkeys.KeyTypeEC, azkeys.KeyTypeECHSM:
		p, err := ecPublicKey(k)
		if err != nil {
			return nil, err
		}
		pub = p
	default:
		return nil, fmt.Errorf("key type %q has no public key file; want RSA or EC", *k.Kty)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ecPublicKey builds the key through crypto/ecdh's checks (via the uncompressed
// point encoding), so a point off the curve is an error, not a bad file.
func ecPublicKey(k *azkeys.JSONWebKey) (*ecdsa.PublicKey, error) {
	var curve elliptic.Curve
	switch crv := deref(k.Crv); crv {
	case azkeys.CurveNameP256:
		curve = elliptic.P256()
	case azkeys.CurveNameP384:
		curve = elliptic.P384()
	case azkeys.CurveNameP521:
		curve = elliptic.P521()
	default:
		return nil, fmt.Errorf("EC curve %q is not supported; want P-256, P-384 or P-521", crv)
	}
	size := (curve.Params().BitSize + 7) / 8
	if len(k.X) == 0 || len(k.X) > size || len(k.Y) == 0 || len(k.Y) > size {
		return nil, errors.New("EC key without valid x and y")
	}
	point := make([]byte, 1+2*size)
	point[0] = 4
	new(big.Int).SetBytes(k.X).FillBytes(point[1 : 1+size])
	new(big.Int).SetBytes(k.Y).FillBytes(point[1+size:])
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, fmt.Errorf("EC key: %w", err)
	}
	return pub, nil
}

// certificatePEM writes a certificate's DER (`cer`) as one "CERTIFICATE" block.
func certificatePEM(der []byte) ([]byte, error) {
	if len(der) == 0 {
		return nil, errors.New("certificate has no cer")
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
