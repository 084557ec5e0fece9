package emulator

import (
	"net/http"
	"slices"
	"strings"
)

// secretVersion is one version of a secret. value is secret: never log it.
type secretVersion struct {
	version     string
	value       string
	contentType string
	attrs       attributes
	tags        map[string]string
	kid         string // backing key of a certificate's managed secret
	managed     bool
}

// secretJSON is the SecretBundle / SecretItem wire form; Value is omitted in lists.
type secretJSON struct {
	Value       *string           `json:"value,omitempty"`
	ID          string            `json:"id"`
	ContentType string            `json:"contentType,omitempty"`
	Attributes  attributes        `json:"attributes"`
	Tags        map[string]string `json:"tags,omitempty"`
	Kid         string            `json:"kid,omitempty"`
	Managed     bool              `json:"managed,omitempty"`
}

func (s *Server) secretJSON(vault, name string, v *secretVersion, withValue bool) secretJSON {
	j := secretJSON{ID: s.objectURL(vault, "secrets", name, v.version), ContentType: v.contentType,
		Attributes: v.attrs, Tags: v.tags, Kid: v.kid, Managed: v.managed}
	if withValue {
		val := v.value
		j.Value = &val
	}
	return j
}

func secretID(v *secretVersion) string { return v.version }

// SetSecret adds a new version of a secret and returns its version id.
func (s *Server) SetSecret(vault, name, value, contentType string) (version string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.setSecretLocked(vault, name, &secretVersion{value: value, contentType: contentType, attrs: newAttributes(nil)})
}

// setSecretLocked appends v (assigning a version id if it has none); s.mu must be held.
func (s *Server) setSecretLocked(vault, name string, v *secretVersion) string {
	if v.version == "" {
		v.version = randomHex(16)
	}
	d := s.vaultLocked(vault)
	d.secrets[name] = append(d.secrets[name], v)
	return v.version
}

// DisableSecretVersion disables one version of a secret ("" = latest); GETs of it then answer 403
// SecretDisabled. It does nothing if there is no such version.
func (s *Server) DisableSecretVersion(vault, name, version string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := findVersion(s.vaultLocked(vault).secrets[name], version, secretID); ok {
		v.attrs.apply(&attributesIn{Enabled: new(false)})
	}
}

// secretRoutes registers the secrets data plane.
func (s *Server) secretRoutes(mux *http.ServeMux) {
	mux.Handle("PUT /secrets/{name}", s.op("SetSecret", ReadWrite, s.putSecret))
	mux.Handle("GET /secrets/{name}", s.op("GetSecret", Read, s.getSecret))
	mux.Handle("GET /secrets/{name}/{$}", s.op("GetSecret", Read, s.getSecret))
	mux.Handle("GET /secrets/{name}/{version}", s.op("GetSecret", Read, s.getSecret))
	mux.Handle("GET /secrets/{name}/versions", s.op("ListSecretVersions", Read, s.listSecretVersions))
	mux.Handle("GET /secrets", s.op("ListSecrets", Read, s.listSecrets))
	mux.Handle("PATCH /secrets/{name}/{$}", s.op("UpdateSecret", ReadWrite, s.patchSecret))
	mux.Handle("PATCH /secrets/{name}/{version}", s.op("UpdateSecret", ReadWrite, s.patchSecret))
}

func (s *Server) putSecret(w http.ResponseWriter, r *http.Request, vault string) {
	name := r.PathValue("name")
	if !validName(name) {
		writeKVError(w, http.StatusBadRequest, "BadParameter", "The secret name must match ^[0-9a-zA-Z-]{1,127}$.")
		return
	}
	var in struct {
		Value       *string           `json:"value"`
		ContentType string            `json:"contentType"`
		Attributes  *attributesIn     `json:"attributes"`
		Tags        map[string]string `json:"tags"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	if in.Value == nil {
		writeKVError(w, http.StatusBadRequest, "BadParameter", "The secret value is missing.")
		return
	}
	v := &secretVersion{value: *in.Value, contentType: in.ContentType, attrs: newAttributes(in.Attributes), tags: in.Tags}
	s.mu.Lock()
	s.setSecretLocked(vault, name, v)
	j := s.secretJSON(vault, name, v, true)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, j)
}

func (s *Server) getSecret(w http.ResponseWriter, r *http.Request, vault string) {
	name := r.PathValue("name")
	s.mu.Lock()
	v, ok := findVersion(s.vaultLocked(vault).secrets[name], r.PathValue("version"), secretID)
	var j secretJSON
	if ok {
		j = s.secretJSON(vault, name, v, true)
	}
	s.mu.Unlock()
	switch {
	case !ok:
		notFound(w, "SecretNotFound", "secret", name, vault)
	case !j.Attributes.Enabled:
		writeKVInnerError(w, http.StatusForbidden, "Forbidden", "SecretDisabled", "Operation get is not allowed on a disabled secret.")
	default:
		writeJSON(w, http.StatusOK, j)
	}
}

func (s *Server) listSecretVersions(w http.ResponseWriter, r *http.Request, vault string) {
	name := r.PathValue("name")
	s.mu.Lock()
	versions := s.vaultLocked(vault).secrets[name]
	items := make([]any, 0, len(versions))
	for _, v := range versions {
		items = append(items, s.secretJSON(vault, name, v, false))
	}
	s.mu.Unlock()
	if len(items) == 0 {
		notFound(w, "SecretNotFound", "secret", name, vault)
		return
	}
	writePage(w, r, items)
}

func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request, vault string) {
	s.mu.Lock()
	d := s.vaultLocked(vault)
	items := make([]any, 0, len(d.secrets))
	for _, name := range sortedKeys(d.secrets) {
		j := s.secretJSON(vault, name, d.secrets[name][len(d.secrets[name])-1], false)
		j.ID = s.objectURL(vault, "secrets", name, "")
		items = append(items, j)
	}
	s.mu.Unlock()
	writePage(w, r, items)
}

func (s *Server) patchSecret(w http.ResponseWriter, r *http.Request, vault string) {
	name := r.PathValue("name")
	var in struct {
		ContentType *string           `json:"contentType"`
		Attributes  *attributesIn     `json:"attributes"`
		Tags        map[string]string `json:"tags"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	s.mu.Lock()
	v, ok := findVersion(s.vaultLocked(vault).secrets[name], r.PathValue("version"), secretID)
	var j secretJSON
	if ok {
		if in.ContentType != nil {
			v.contentType = *in.ContentType
		}
		if in.Tags != nil {
			v.tags = in.Tags
		}
		v.attrs.apply(in.Attributes)
		j = s.secretJSON(vault, name, v, false)
	}
	s.mu.Unlock()
	if !ok {
		notFound(w, "SecretNotFound", "secret", name, vault)
		return
	}
	writeJSON(w, http.StatusOK, j)
}

// sortedKeys returns m's keys in a stable order for lists.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	return keys
}

// sortStrings sorts case-insensitively, as Key Vault lists names.
func sortStrings(ss []string) {
	slices.SortFunc(ss, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
}
