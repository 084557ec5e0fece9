package emulator

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// certPolicy is the certificate policy, in requests and responses.
type certPolicy struct {
	ID          string       `json:"id,omitempty"`
	KeyProps    *keyProps    `json:"key_props,omitempty"`
	SecretProps *secretProps `json:"secret_props,omitempty"`
	X509Props   *x509Props   `json:"x509_props,omitempty"`
	Issuer      *issuerProps `json:"issuer,omitempty"`
}

type keyProps struct {
	Exportable bool   `json:"exportable"`
	Kty        string `json:"kty,omitempty"`
	KeySize    int    `json:"key_size,omitempty"`
	Crv        string `json:"crv,omitempty"`
	ReuseKey   bool   `json:"reuse_key"`
}

type secretProps struct {
	ContentType string `json:"contentType,omitempty"`
}

type x509Props struct {
	Subject        string    `json:"subject,omitempty"`
	SANs           *sansJSON `json:"sans,omitempty"`
	ValidityMonths int       `json:"validity_months,omitempty"`
}

type sansJSON struct {
	DNSNames []string `json:"dns_names,omitempty"`
}

type issuerProps struct {
	Name string `json:"name,omitempty"`
}

// certVersion is one version of a certificate; its key and managed secret share the version id.
type certVersion struct {
	version     string
	leaf        *x509.Certificate
	contentType string
	policy      certPolicy
	attrs       attributes
	tags        map[string]string
	csr         []byte // self-signed only: shown by the pending operation
}

func certID(v *certVersion) string { return v.version }

// certJSON is the CertificateBundle / CertificateItem wire form: cer is padded std base64 (the
// leaf's DER), x5t unpadded base64url.
type certJSON struct {
	ID          string            `json:"id"`
	Kid         string            `json:"kid,omitempty"`
	Sid         string            `json:"sid,omitempty"`
	X5t         string            `json:"x5t"`
	Cer         string            `json:"cer,omitempty"`
	ContentType string            `json:"contentType,omitempty"`
	Attributes  attributes        `json:"attributes"`
	Policy      *certPolicy       `json:"policy,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

func (s *Server) certJSON(vault, name string, v *certVersion, full bool) certJSON {
	j := certJSON{ID: s.objectURL(vault, "certificates", name, v.version), X5t: thumbprint(v.leaf), Attributes: v.attrs, Tags: v.tags}
	if full {
		j.Kid = s.objectURL(vault, "keys", name, v.version)
		j.Sid = s.objectURL(vault, "secrets", name, v.version)
		j.Cer = base64.StdEncoding.EncodeToString(v.leaf.Raw)
		j.ContentType = v.contentType
		p := v.policy
		p.ID = s.objectURL(vault, "certificates", name, "") + "/policy"
		j.Policy = &p
	}
	return j
}

// ImportCertificate imports a PFX (empty password) or PEM (key + chain, any order) as a new
// certificate version, with its managed key and secret. contentType is the managed secret's
// (ContentTypePFX or ContentTypePEM); "" keeps the input's format.
func (s *Server) ImportCertificate(vault, name string, data []byte, contentType string) (version string, err error) {
	m, err := parseCertMaterial(data, "")
	if err != nil {
		return "", fmt.Errorf("emulator: import certificate %s/%s: %w", vault, name, err)
	}
	v, err := s.addCertificate(vault, name, m, certPolicy{SecretProps: &secretProps{ContentType: defaultContentType(contentType, data)},
		Issuer: &issuerProps{Name: "Unknown"}}, nil, nil)
	if err != nil {
		return "", fmt.Errorf("emulator: import certificate %s/%s: %w", vault, name, err)
	}
	return v.version, nil
}

// CreateSelfSignedCertificate creates a self-signed RSA 2048 certificate version for subject
// ("CN=…"); contentType is the managed secret's (ContentTypePFX or ContentTypePEM, "" = PFX).
func (s *Server) CreateSelfSignedCertificate(vault, name, subject, contentType string) (version string, err error) {
	p := certPolicy{KeyProps: &keyProps{Kty: "RSA", KeySize: 2048}, SecretProps: &secretProps{ContentType: contentType},
		X509Props: &x509Props{Subject: subject}}
	v, err := s.createSelfSigned(vault, name, p, nil, nil)
	if err != nil {
		return "", fmt.Errorf("emulator: create certificate %s/%s: %w", vault, name, err)
	}
	return v.version, nil
}

// defaultContentType keeps an explicit content type, else follows the input format.
func defaultContentType(ct string, data []byte) string {
	if ct != "" {
		return ct
	}
	if strings.Contains(string(data), "-----BEGIN") {
		return ContentTypePEM
	}
	return ContentTypePFX
}

// createSelfSigned fills the policy defaults, issues the certificate and stores it.
func (s *Server) createSelfSigned(vault, name string, p certPolicy, in *attributesIn, tags map[string]string) (*certVersion, error) {
	if p.Issuer != nil && p.Issuer.Name != "" && !strings.EqualFold(p.Issuer.Name, "Self") {
		return nil, fmt.Errorf("%w: issuer %q: the emulator issues only Self certificates", errCertificate, p.Issuer.Name)
	}
	p.Issuer = &issuerProps{Name: "Self"}
	if p.KeyProps == nil {
		p.KeyProps = &keyProps{Kty: "RSA", KeySize: 2048}
	}
	if p.X509Props == nil {
		p.X509Props = &x509Props{}
	}
	if p.X509Props.Subject == "" {
		p.X509Props.Subject = "CN=" + name
	}
	if p.X509Props.ValidityMonths == 0 {
		p.X509Props.ValidityMonths = 12
	}
	kt, err := keyTypeFor(p.KeyProps.Kty, p.KeyProps.KeySize, p.KeyProps.Crv)
	if err != nil {
		return nil, err
	}
	subject, err := parseSubject(p.X509Props.Subject)
	if err != nil {
		return nil, err
	}
	key, err := generateKey(kt)
	if err != nil {
		return nil, err
	}
	var dns []string
	if p.X509Props.SANs != nil {
		dns = p.X509Props.SANs.DNSNames
	}
	m, csr, err := selfSigned(key, subject, dns, p.X509Props.ValidityMonths)
	if err != nil {
		return nil, err
	}
	return s.addCertificateCSR(vault, name, m, p, in, tags, csr)
}

func (s *Server) addCertificate(vault, name string, m *certMaterial, p certPolicy, in *attributesIn, tags map[string]string) (*certVersion, error) {
	return s.addCertificateCSR(vault, name, m, p, in, tags, nil)
}

// addCertificateCSR stores a certificate version with its managed key and secret under one new
// version id, atomically.
func (s *Server) addCertificateCSR(vault, name string, m *certMaterial, p certPolicy, in *attributesIn, tags map[string]string, csr []byte) (*certVersion, error) {
	if p.SecretProps == nil || p.SecretProps.ContentType == "" {
		p.SecretProps = &secretProps{ContentType: ContentTypePFX}
	}
	ct := p.SecretProps.ContentType
	if ct != ContentTypePFX && ct != ContentTypePEM {
		return nil, fmt.Errorf("%w: secret content type %q (want %s or %s)", errCertificate, ct, ContentTypePFX, ContentTypePEM)
	}
	value, err := m.secretValue(ct)
	if err != nil {
		return nil, err
	}
	jwk, err := publicJWK(m.key.Public())
	if err != nil {
		return nil, err
	}
	p.KeyProps = m.keyProps()
	version := randomHex(16)
	attrs := newAttributes(in)
	nbf, exp := m.leaf.NotBefore.Unix(), m.leaf.NotAfter.Unix()
	attrs.NotBefore, attrs.Expires = &nbf, &exp
	cv := &certVersion{version: version, leaf: m.leaf, contentType: ct, policy: p, attrs: attrs, tags: tags, csr: csr}

	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.vaultLocked(vault)
	d.keys[name] = append(d.keys[name], &keyVersion{version: version, jwk: jwk, attrs: attrs, managed: true})
	s.setSecretLocked(vault, name, &secretVersion{version: version, value: value, contentType: ct, attrs: attrs,
		kid: s.objectURL(vault, "keys", name, version), managed: true})
	d.certs[name] = append(d.certs[name], cv)
	return cv, nil
}

// certificateRoutes registers the certificates data plane.
func (s *Server) certificateRoutes(mux *http.ServeMux) {
	mux.Handle("POST /certificates/{name}/import", s.op("ImportCertificate", ReadWrite, s.importCertificate))
	mux.Handle("POST /certificates/{name}/create", s.op("CreateCertificate", ReadWrite, s.createCertificate))
	mux.Handle("GET /certificates/{name}/pending", s.op("GetCertificateOperation", Read, s.getCertificateOperation))
	mux.Handle("GET /certificates/{name}", s.op("GetCertificate", Read, s.getCertificate))
	mux.Handle("GET /certificates/{name}/{$}", s.op("GetCertificate", Read, s.getCertificate))
	mux.Handle("GET /certificates/{name}/{version}", s.op("GetCertificate", Read, s.getCertificate))
	mux.Handle("GET /certificates/{name}/versions", s.op("ListCertificateVersions", Read, s.listCertificateVersions))
	mux.Handle("GET /certificates", s.op("ListCertificates", Read, s.listCertificates))
}

func (s *Server) importCertificate(w http.ResponseWriter, r *http.Request, vault string) {
	var in struct {
		Value      string            `json:"value"`
		Password   string            `json:"pwd"`
		Policy     *certPolicy       `json:"policy"`
		Attributes *attributesIn     `json:"attributes"`
		Tags       map[string]string `json:"tags"`
	}
	if !decodeBody(w, r, &in) || !s.checkName(w, r) {
		return
	}
	data := []byte(in.Value)
	if !strings.Contains(in.Value, "-----BEGIN") {
		var err error
		if data, err = base64.StdEncoding.DecodeString(in.Value); err != nil {
			writeKVError(w, http.StatusBadRequest, "BadParameter", "The certificate value is neither PEM nor base64 PFX.")
			return
		}
	}
	p := certPolicy{Issuer: &issuerProps{Name: "Unknown"}}
	if in.Policy != nil {
		p = *in.Policy
	}
	if p.SecretProps == nil || p.SecretProps.ContentType == "" {
		p.SecretProps = &secretProps{ContentType: defaultContentType("", data)}
	}
	m, err := parseCertMaterial(data, in.Password)
	var v *certVersion
	if err == nil {
		v, err = s.addCertificate(vault, r.PathValue("name"), m, p, in.Attributes, in.Tags)
	}
	s.answerCertificate(w, vault, r.PathValue("name"), v, err)
}

func (s *Server) createCertificate(w http.ResponseWriter, r *http.Request, vault string) {
	var in struct {
		Policy     *certPolicy       `json:"policy"`
		Attributes *attributesIn     `json:"attributes"`
		Tags       map[string]string `json:"tags"`
	}
	if !decodeBody(w, r, &in) || !s.checkName(w, r) {
		return
	}
	if in.Policy == nil {
		in.Policy = &certPolicy{}
	}
	name := r.PathValue("name")
	v, err := s.createSelfSigned(vault, name, *in.Policy, in.Attributes, in.Tags)
	if err != nil {
		writeKVError(w, http.StatusBadRequest, "BadParameter", err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, s.operationJSON(vault, name, v))
}

// operationJSON is a completed CertificateOperation: the emulator issues certificates at once.
func (s *Server) operationJSON(vault, name string, v *certVersion) map[string]any {
	op := map[string]any{
		"id":                     s.objectURL(vault, "certificates", name, "") + "/pending",
		"issuer":                 map[string]string{"name": v.policy.Issuer.Name},
		"cancellation_requested": false,
		"status":                 "completed",
		"status_details":         "",
		"target":                 s.objectURL(vault, "certificates", name, ""),
		"request_id":             v.version,
	}
	if v.csr != nil {
		op["csr"] = base64.StdEncoding.EncodeToString(v.csr)
	}
	return op
}

func (s *Server) getCertificateOperation(w http.ResponseWriter, r *http.Request, vault string) {
	name := r.PathValue("name")
	s.mu.Lock()
	v, ok := findVersion(s.vaultLocked(vault).certs[name], "", certID)
	s.mu.Unlock()
	if !ok || v.policy.Issuer == nil || v.policy.Issuer.Name != "Self" {
		writeKVError(w, http.StatusNotFound, "PendingCertificateNotFound", "Pending certificate not found: "+name)
		return
	}
	writeJSON(w, http.StatusOK, s.operationJSON(vault, name, v))
}

// checkName answers 400 for an invalid object name.
func (s *Server) checkName(w http.ResponseWriter, r *http.Request) bool {
	if validName(r.PathValue("name")) {
		return true
	}
	writeKVError(w, http.StatusBadRequest, "BadParameter", "The object name must match ^[0-9a-zA-Z-]{1,127}$.")
	return false
}

// answerCertificate writes the new version's bundle, or 400 for bad material.
func (s *Server) answerCertificate(w http.ResponseWriter, vault, name string, v *certVersion, err error) {
	if err != nil {
		code := "BadParameter"
		if !errors.Is(err, errCertificate) && !errors.Is(err, errKeyType) {
			code = "InternalError"
		}
		writeKVError(w, http.StatusBadRequest, code, err.Error())
		return
	}
	s.mu.Lock()
	j := s.certJSON(vault, name, v, true)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, j)
}

func (s *Server) getCertificate(w http.ResponseWriter, r *http.Request, vault string) {
	name := r.PathValue("name")
	s.mu.Lock()
	v, ok := findVersion(s.vaultLocked(vault).certs[name], r.PathValue("version"), certID)
	var j certJSON
	if ok {
		j = s.certJSON(vault, name, v, true)
	}
	s.mu.Unlock()
	if !ok {
		notFound(w, "CertificateNotFound", "certificate", name, vault)
		return
	}
	writeJSON(w, http.StatusOK, j)
}

func (s *Server) listCertificateVersions(w http.ResponseWriter, r *http.Request, vault string) {
	name := r.PathValue("name")
	s.mu.Lock()
	versions := s.vaultLocked(vault).certs[name]
	items := make([]any, 0, len(versions))
	for _, v := range versions {
		items = append(items, s.certJSON(vault, name, v, false))
	}
	s.mu.Unlock()
	if len(items) == 0 {
		notFound(w, "CertificateNotFound", "certificate", name, vault)
		return
	}
	writePage(w, r, items)
}

func (s *Server) listCertificates(w http.ResponseWriter, r *http.Request, vault string) {
	s.mu.Lock()
	d := s.vaultLocked(vault)
	items := make([]any, 0, len(d.certs))
	for _, name := range sortedKeys(d.certs) {
		j := s.certJSON(vault, name, d.certs[name][len(d.certs[name])-1], false)
		j.ID = s.objectURL(vault, "certificates", name, "")
		items = append(items, j)
	}
	s.mu.Unlock()
	writePage(w, r, items)
}
