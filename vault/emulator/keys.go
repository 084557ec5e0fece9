package emulator

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
)

// KeyType is a key algorithm and size the emulator can create.
type KeyType string

// Key types Key Vault creates.
const (
	KeyRSA2048 KeyType = "RSA-2048"
	KeyRSA3072 KeyType = "RSA-3072"
	KeyRSA4096 KeyType = "RSA-4096"
	KeyECP256  KeyType = "EC-P-256"
	KeyECP384  KeyType = "EC-P-384"
	KeyECP521  KeyType = "EC-P-521"
)

// errKeyType is returned for a key type or size the emulator does not create.
var errKeyType = errors.New("unsupported key type")

// keyTypeFor maps the wire kty + key_size/crv to a KeyType.
func keyTypeFor(kty string, size int, crv string) (KeyType, error) {
	switch strings.TrimSuffix(strings.ToUpper(kty), "-HSM") {
	case "RSA":
		if size == 0 {
			size = 2048
		}
		if size == 2048 || size == 3072 || size == 4096 {
			return KeyType(fmt.Sprintf("RSA-%d", size)), nil
		}
		return "", fmt.Errorf("%w: RSA key_size %d (want 2048, 3072 or 4096)", errKeyType, size)
	case "EC":
		if crv == "" {
			crv = "P-256"
		}
		if crv == "P-256" || crv == "P-384" || crv == "P-521" {
			return KeyType("EC-" + crv), nil
		}
		return "", fmt.Errorf("%w: EC curve %q (want P-256, P-384 or P-521)", errKeyType, crv)
	}
	return "", fmt.Errorf("%w: kty %q (want RSA or EC)", errKeyType, kty)
}

// generateKey creates a private key of type kt.
func generateKey(kt KeyType) (crypto.Signer, error) {
	switch kt {
	case KeyRSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case KeyRSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case KeyRSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	case KeyECP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyECP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case KeyECP521:
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	}
	return nil, fmt.Errorf("%w: %q", errKeyType, kt)
}

// jsonWebKey is the public JWK Key Vault returns; byte fields are unpadded base64url.
type jsonWebKey struct {
	Kid    string   `json:"kid"`
	Kty    string   `json:"kty"`
	KeyOps []string `json:"key_ops,omitempty"`
	N      string   `json:"n,omitempty"`
	E      string   `json:"e,omitempty"`
	Crv    string   `json:"crv,omitempty"`
	X      string   `json:"x,omitempty"`
	Y      string   `json:"y,omitempty"`
}

var b64url = base64.RawURLEncoding

// publicJWK encodes an RSA or EC public key (EC coordinates padded to the curve size).
func publicJWK(pub crypto.PublicKey) (jsonWebKey, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return jsonWebKey{Kty: "RSA", KeyOps: []string{"encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"},
			N: b64url.EncodeToString(k.N.Bytes()), E: b64url.EncodeToString(big.NewInt(int64(k.E)).Bytes())}, nil
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		return jsonWebKey{Kty: "EC", KeyOps: []string{"sign", "verify"}, Crv: k.Curve.Params().Name,
			X: b64url.EncodeToString(k.X.FillBytes(make([]byte, size))), Y: b64url.EncodeToString(k.Y.FillBytes(make([]byte, size)))}, nil
	}
	return jsonWebKey{}, fmt.Errorf("%w: public key %T", errKeyType, pub)
}

// keyVersion is one version of a key; only the public part is kept (Key Vault never exports it).
type keyVersion struct {
	version string
	jwk     jsonWebKey
	attrs   attributes
	tags    map[string]string
	managed bool
}

func keyID(v *keyVersion) string { return v.version }

// keyJSON is the KeyBundle / KeyItem wire form.
type keyJSON struct {
	Key        *jsonWebKey       `json:"key,omitempty"`
	Kid        string            `json:"kid,omitempty"`
	Attributes attributes        `json:"attributes"`
	Tags       map[string]string `json:"tags,omitempty"`
	Managed    bool              `json:"managed,omitempty"`
}

func (s *Server) keyJSON(vault, name string, v *keyVersion, withKey bool) keyJSON {
	kid := s.objectURL(vault, "keys", name, v.version)
	j := keyJSON{Attributes: v.attrs, Tags: v.tags, Managed: v.managed}
	if withKey {
		k := v.jwk
		k.Kid = kid
		j.Key = &k
	} else {
		j.Kid = kid
	}
	return j
}

// CreateKey adds a new version of a key of type kt and returns its version id. It panics on an
// unknown KeyType, which is a bug in the calling test.
func (s *Server) CreateKey(vault, name string, kt KeyType) (version string) {
	priv, err := generateKey(kt)
	if err != nil {
		panic("emulator.CreateKey: " + err.Error())
	}
	v, err := s.addKey(vault, name, priv.Public(), "", nil, nil, false)
	if err != nil {
		panic("emulator.CreateKey: " + err.Error())
	}
	return v.version
}

// addKey stores a new key version for pub; version "" means a fresh id.
func (s *Server) addKey(vault, name string, pub crypto.PublicKey, version string, in *attributesIn, tags map[string]string, managed bool) (*keyVersion, error) {
	jwk, err := publicJWK(pub)
	if err != nil {
		return nil, err
	}
	if version == "" {
		version = randomHex(16)
	}
	v := &keyVersion{version: version, jwk: jwk, attrs: newAttributes(in), tags: tags, managed: managed}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.vaultLocked(vault)
	d.keys[name] = append(d.keys[name], v)
	return v, nil
}

// keyRoutes registers the keys data plane.
func (s *Server) keyRoutes(mux *http.ServeMux) {
	mux.Handle("POST /keys/{name}/create", s.op("CreateKey", ReadWrite, s.createKey))
	mux.Handle("PUT /keys/{name}", s.op("ImportKey", ReadWrite, s.importKey))
	mux.Handle("GET /keys/{name}", s.op("GetKey", Read, s.getKey))
	mux.Handle("GET /keys/{name}/{$}", s.op("GetKey", Read, s.getKey))
	mux.Handle("GET /keys/{name}/{version}", s.op("GetKey", Read, s.getKey))
	mux.Handle("GET /keys/{name}/versions", s.op("ListKeyVersions", Read, s.listKeyVersions))
	mux.Handle("GET /keys", s.op("ListKeys", Read, s.listKeys))
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request, vault string) {
	var in struct {
		Kty        string            `json:"kty"`
		KeySize    int               `json:"key_size"`
		Crv        string            `json:"crv"`
		Attributes *attributesIn     `json:"attributes"`
		Tags       map[string]string `json:"tags"`
	}
	if !validName(r.PathValue("name")) || !decodeBody(w, r, &in) {
		if !validName(r.PathValue("name")) {
			writeKVError(w, http.StatusBadRequest, "BadParameter", "The key name must match ^[0-9a-zA-Z-]{1,127}$.")
		}
		return
	}
	kt, err := keyTypeFor(in.Kty, in.KeySize, in.Crv)
	var priv crypto.Signer
	if err == nil {
		priv, err = generateKey(kt)
	}
	if err != nil {
		writeKVError(w, http.StatusBadRequest, "BadParameter", err.Error())
		return
	}
	s.storeKey(w, vault, r.PathValue("name"), priv.Public(), in.Attributes, in.Tags)
}

// storeKey adds the key version and answers its KeyBundle.
func (s *Server) storeKey(w http.ResponseWriter, vault, name string, pub crypto.PublicKey, in *attributesIn, tags map[string]string) {
	v, err := s.addKey(vault, name, pub, "", in, tags, false)
	if err != nil {
		writeKVError(w, http.StatusBadRequest, "BadParameter", err.Error())
		return
	}
	s.mu.Lock()
	j := s.keyJSON(vault, name, v, true)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, j)
}

func (s *Server) importKey(w http.ResponseWriter, r *http.Request, vault string) {
	var in struct {
		Key        jsonWebKey        `json:"key"`
		Attributes *attributesIn     `json:"attributes"`
		Tags       map[string]string `json:"tags"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	pub, err := parsePublicJWK(in.Key)
	if err != nil || !validName(r.PathValue("name")) {
		writeKVError(w, http.StatusBadRequest, "BadParameter", fmt.Sprintf("The key to import is not valid: %v (name must match ^[0-9a-zA-Z-]{1,127}$).", err))
		return
	}
	s.storeKey(w, vault, r.PathValue("name"), pub, in.Attributes, in.Tags)
}

// parsePublicJWK reads the public part of an RSA or EC JWK.
func parsePublicJWK(k jsonWebKey) (crypto.PublicKey, error) {
	num := func(s string) (*big.Int, error) {
		b, err := b64url.DecodeString(strings.TrimRight(s, "="))
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("bad base64url field: %w", errors.Join(err, errKeyType))
		}
		return new(big.Int).SetBytes(b), nil
	}
	switch strings.TrimSuffix(strings.ToUpper(k.Kty), "-HSM") {
	case "RSA":
		n, err1 := num(k.N)
		e, err2 := num(k.E)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
	case "EC":
		return parseECJWK(k, num)
	}
	return nil, fmt.Errorf("%w: kty %q", errKeyType, k.Kty)
}

// parseECJWK reads an EC public key, checking the point is on the curve.
func parseECJWK(k jsonWebKey, num func(string) (*big.Int, error)) (crypto.PublicKey, error) {
	curves := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}
	c, ok := curves[k.Crv]
	if !ok {
		return nil, fmt.Errorf("%w: curve %q", errKeyType, k.Crv)
	}
	x, err1 := num(k.X)
	y, err2 := num(k.Y)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	if !c.IsOnCurve(x, y) { //nolint:staticcheck // only validating an imported point
		return nil, fmt.Errorf("%w: point not on curve %s", errKeyType, k.Crv)
	}
	return &ecdsa.PublicKey{Curve: c, X: x, Y: y}, nil
}

func (s *Server) getKey(w http.ResponseWriter, r *http.Request, vault string) {
	name := r.PathValue("name")
	s.mu.Lock()
	v, ok := findVersion(s.vaultLocked(vault).keys[name], r.PathValue("version"), keyID)
	var j keyJSON
	if ok {
		j = s.keyJSON(vault, name, v, true)
	}
	s.mu.Unlock()
	if !ok {
		notFound(w, "KeyNotFound", "key", name, vault)
		return
	}
	writeJSON(w, http.StatusOK, j)
}

func (s *Server) listKeyVersions(w http.ResponseWriter, r *http.Request, vault string) {
	name := r.PathValue("name")
	s.mu.Lock()
	versions := s.vaultLocked(vault).keys[name]
	items := make([]any, 0, len(versions))
	for _, v := range versions {
		items = append(items, s.keyJSON(vault, name, v, false))
	}
	s.mu.Unlock()
	if len(items) == 0 {
		notFound(w, "KeyNotFound", "key", name, vault)
		return
	}
	writePage(w, r, items)
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, vault string) {
	s.mu.Lock()
	d := s.vaultLocked(vault)
	items := make([]any, 0, len(d.keys))
	for _, name := range sortedKeys(d.keys) {
		j := s.keyJSON(vault, name, d.keys[name][len(d.keys[name])-1], false)
		j.Kid = s.objectURL(vault, "keys", name, "")
		items = append(items, j)
	}
	s.mu.Unlock()
	writePage(w, r, items)
}
