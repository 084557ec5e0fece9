package emulator

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// vaultData is one vault's objects. Each slice holds an object's versions, oldest first; the last
// one is "latest". Guarded by Server.mu.
type vaultData struct {
	secrets map[string][]*secretVersion
	keys    map[string][]*keyVersion
	certs   map[string][]*certVersion
}

// attributes is the Key Vault attributes object shared by secrets, keys and certificates.
// Timestamps are integer Unix seconds, as the service sends them.
type attributes struct {
	Enabled         bool   `json:"enabled"`
	NotBefore       *int64 `json:"nbf,omitempty"`
	Expires         *int64 `json:"exp,omitempty"`
	Created         int64  `json:"created"`
	Updated         int64  `json:"updated"`
	RecoveryLevel   string `json:"recoveryLevel"`
	RecoverableDays int    `json:"recoverableDays"`
}

// attributesIn is the writable part of attributes in requests.
type attributesIn struct {
	Enabled   *bool  `json:"enabled"`
	NotBefore *int64 `json:"nbf"`
	Expires   *int64 `json:"exp"`
}

// newAttributes returns enabled attributes created now, with in applied.
func newAttributes(in *attributesIn) attributes {
	now := time.Now().Unix()
	a := attributes{Enabled: true, Created: now, Updated: now, RecoveryLevel: "Recoverable+Purgeable", RecoverableDays: 90}
	a.apply(in)
	return a
}

// apply copies the fields set in in.
func (a *attributes) apply(in *attributesIn) {
	if in == nil {
		return
	}
	if in.Enabled != nil {
		a.Enabled = *in.Enabled
	}
	if in.NotBefore != nil {
		a.NotBefore = in.NotBefore
	}
	if in.Expires != nil {
		a.Expires = in.Expires
	}
	a.Updated = time.Now().Unix()
}

// vaultLocked returns the named vault, creating it on first use; s.mu must be held.
func (s *Server) vaultLocked(name string) *vaultData {
	name = strings.ToLower(name)
	v := s.vaults[name]
	if v == nil {
		v = &vaultData{secrets: map[string][]*secretVersion{}, keys: map[string][]*keyVersion{}, certs: map[string][]*certVersion{}}
		s.vaults[name] = v
	}
	return v
}

// findVersion returns the version named version, or the latest if version is "".
func findVersion[T any](versions []T, version string, id func(T) string) (T, bool) {
	var zero T
	if len(versions) == 0 {
		return zero, false
	}
	if version == "" {
		return versions[len(versions)-1], true
	}
	for _, v := range versions {
		if strings.EqualFold(id(v), version) {
			return v, true
		}
	}
	return zero, false
}

// objectURL is the identifier of an object: "https://<vault>.vault.test:<port>/<kind>/<name>[/<version>]".
func (s *Server) objectURL(vault, kind, name, version string) string {
	u := strings.TrimSuffix(s.VaultURL(vault), "/") + "/" + kind + "/" + name
	if version != "" {
		u += "/" + version
	}
	return u
}

// validName reports whether name is a valid Key Vault object name.
func validName(name string) bool {
	if name == "" || len(name) > 127 {
		return false
	}
	for _, c := range name {
		if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// listPage is the paged list body; nextLink is null on the last page.
type listPage struct {
	Value    []any   `json:"value"`
	NextLink *string `json:"nextLink"`
}

// maxPage is Key Vault's largest (and default) page size.
const maxPage = 25

// writePage answers one page of items, honouring maxresults and $skiptoken, with an absolute
// nextLink that carries api-version (the SDK follows it verbatim).
func writePage(w http.ResponseWriter, r *http.Request, items []any) {
	q := r.URL.Query()
	size := maxPage
	if n, err := strconv.Atoi(q.Get("maxresults")); err == nil && n > 0 && n < maxPage {
		size = n
	}
	skip, _ := strconv.Atoi(q.Get("$skiptoken"))
	skip = min(max(skip, 0), len(items))
	end := min(skip+size, len(items))
	page := listPage{Value: items[skip:end]}
	if page.Value == nil {
		page.Value = []any{}
	}
	if end < len(items) {
		next := url.Values{}
		next.Set("api-version", q.Get("api-version"))
		next.Set("$skiptoken", strconv.Itoa(end))
		if q.Has("maxresults") {
			next.Set("maxresults", q.Get("maxresults"))
		}
		link := "https://" + r.Host + r.URL.Path + "?" + next.Encode()
		page.NextLink = &link
	}
	writeJSON(w, http.StatusOK, page)
}

// notFound answers 404 with the Key Vault code for the object kind.
func notFound(w http.ResponseWriter, code, what, name, vault string) {
	writeKVError(w, http.StatusNotFound, code, "A "+what+" with (name/id) "+name+" was not found in this key vault ("+vault+").")
}
