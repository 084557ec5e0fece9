package secretsync

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"software.sslmate.com/src/go-pkcs12"
)

// PEM block types, as upstream's secretutil writes them.
const (
	blockCert = "CERTIFICATE"
	blockRSA  = "RSA PRIVATE KEY"
	blockEC   = "EC PRIVATE KEY"
)

// errTLSKey is returned for a key other than tls.crt or tls.key in a
// kubernetes.io/tls secretObject.
var errTLSKey = errors.New("a kubernetes.io/tls secretObject may only have the keys tls.crt and tls.key")

// tlsPart extracts what a kubernetes.io/tls Secret holds under key from a
// mounted file: tls.crt gets every certificate (leaf first, as mounted),
// tls.key the private key re-encoded as PKCS#1 (RSA) or SEC 1 (EC), exactly
// as upstream's secretutil.GetCertPart does. The file is a PEM bundle (key
// and chain), a binary PFX, or, unlike upstream, base64 PFX text (what
// objectFormat pfx mounts without objectEncoding base64). Errors name no
// content.
func tlsPart(file []byte, key string) ([]byte, error) {
	if key != corev1.TLSCertKey && key != corev1.TLSPrivateKeyKey {
		return nil, fmt.Errorf("key %q: %w", key, errTLSKey)
	}
	keyDER, certs, err := splitPEM(file)
	if err != nil {
		return nil, err
	}
	if keyDER == nil && certs == nil {
		if keyDER, certs, err = splitPFX(file); err != nil {
			return nil, err
		}
	}
	if key == corev1.TLSCertKey {
		if certs == nil {
			return nil, errors.New("the object holds no certificate: sync a certificate's secret (objectType secret), not its key")
		}
		return certs, nil
	}
	if keyDER == nil {
		return nil, errors.New("the object holds no private key: sync the certificate's secret (objectType secret), not objectType cert")
	}
	return encodeKey(keyDER)
}

// splitPEM returns the last non-certificate block's bytes and the
// certificate blocks re-encoded, in order; nil, nil when file is not PEM.
func splitPEM(file []byte) (keyDER, certs []byte, err error) {
	for {
		block, rest := pem.Decode(file)
		if block == nil {
			return keyDER, certs, nil
		}
		if block.Type == blockCert {
			certs = append(certs, pem.EncodeToMemory(block)...)
		} else {
			keyDER = block.Bytes
		}
		file = rest
	}
}

// splitPFX decodes a PFX with an empty password, binary or base64 text.
func splitPFX(file []byte) (keyDER, certs []byte, err error) {
	priv, leaf, chain, err := pkcs12.DecodeChain(file, "")
	if err != nil {
		text, b64err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(file)))
		if b64err != nil {
			return nil, nil, errors.New("the object is neither PEM nor a PFX: sync a certificate's secret (objectType secret)")
		}
		if priv, leaf, chain, err = pkcs12.DecodeChain(text, ""); err != nil {
			return nil, nil, fmt.Errorf("the object is not a PFX with an empty password: %w", err)
		}
	}
	if keyDER, err = x509.MarshalPKCS8PrivateKey(priv); err != nil {
		return nil, nil, fmt.Errorf("PFX private key: %w", err)
	}
	for _, c := range append([]*x509.Certificate{leaf}, chain...) {
		certs = append(certs, pem.EncodeToMemory(&pem.Block{Type: blockCert, Bytes: c.Raw})...)
	}
	return keyDER, certs, nil
}

// encodeKey re-encodes a PKCS#1, PKCS#8 or SEC 1 private key as PKCS#1
// (RSA) or SEC 1 (EC) PEM, the forms upstream puts under tls.key.
func encodeKey(der []byte) ([]byte, error) {
	var key any
	var err error
	if key, err = x509.ParsePKCS1PrivateKey(der); err != nil {
		if key, err = x509.ParseECPrivateKey(der); err != nil {
			if key, err = x509.ParsePKCS8PrivateKey(der); err != nil {
				return nil, errors.New("the object's private key is not PKCS#1, PKCS#8 or SEC 1")
			}
		}
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return pem.EncodeToMemory(&pem.Block{Type: blockRSA, Bytes: x509.MarshalPKCS1PrivateKey(k)}), nil
	case *ecdsa.PrivateKey:
		b, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return nil, fmt.Errorf("encoding the EC private key: %w", err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: blockEC, Bytes: b}), nil
	}
	return nil, fmt.Errorf("private key type %T: only RSA and ECDSA keys go into a kubernetes.io/tls Secret", key)
}
