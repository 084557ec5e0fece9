package emulator

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Perm is what a client may do in a vault.
type Perm int

const (
	// Read allows get and list.
	Read Perm = iota + 1
	// ReadWrite also allows set, import, create and update.
	ReadWrite
)

// String names the permission.
func (p Perm) String() string {
	switch p {
	case Read:
		return "Read"
	case ReadWrite:
		return "ReadWrite"
	}
	return fmt.Sprintf("Perm(%d)", int(p))
}

// identityKind tells how a client proves who it is at the token endpoint.
type identityKind int

const (
	servicePrincipal identityKind = iota + 1
	federatedClient
	managedIdentity
)

// identity is a registered client. secret and accept are credentials: never log them.
type identity struct {
	kind   identityKind
	secret string
	accept func(assertion string) bool
}

type grantKey struct{ clientID, vault string }

// tokenInfo is what an opaque token stands for.
type tokenInfo struct {
	tenant, clientID, audience string
	expires                    time.Time
}

// AddServicePrincipal registers a client that authenticates with a client secret.
func (s *Server) AddServicePrincipal(clientID, clientSecret string) {
	s.addIdentity(clientID, &identity{kind: servicePrincipal, secret: clientSecret})
}

// AddFederatedClient registers a workload-identity client: its client_assertion is checked by accept
// (called without any emulator lock held).
func (s *Server) AddFederatedClient(clientID string, accept func(assertion string) bool) {
	s.addIdentity(clientID, &identity{kind: federatedClient, accept: accept})
}

// AddManagedIdentity registers a user-assigned managed identity by client ID, served by the
// managed identity endpoint.
func (s *Server) AddManagedIdentity(clientID string) {
	s.addIdentity(clientID, &identity{kind: managedIdentity})
}

func (s *Server) addIdentity(clientID string, id *identity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[clientID] = id
}

// Grant lets clientID use vault with perm, replacing any earlier grant.
func (s *Server) Grant(clientID, vault string, perm Perm) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grants[grantKey{clientID, strings.ToLower(vault)}] = perm
}

// Revoke removes clientID's access to vault. Tokens stay valid (as in Azure); later vault requests
// answer 403 Forbidden.
func (s *Server) Revoke(clientID, vault string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.grants, grantKey{clientID, strings.ToLower(vault)})
}

// SetTokenLifetime sets the lifetime of tokens issued from now on (default one hour).
func (s *Server) SetTokenLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenLifetime = d
}

// Token mints a Key Vault token for a registered client directly, for tests that bypass azidentity.
func (s *Server) Token(clientID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[clientID]; !ok {
		return "", fmt.Errorf("emulator: unknown client %q: register it with AddServicePrincipal, AddFederatedClient or AddManagedIdentity", clientID)
	}
	tok, _ := s.issueLocked(clientID, s.vaultResource())
	return tok, nil
}

// issueLocked creates a token; s.mu must be held.
func (s *Server) issueLocked(clientID, audience string) (string, time.Time) {
	tok := randomHex(32)
	exp := time.Now().Add(s.tokenLifetime)
	s.tokens[tok] = tokenInfo{tenant: s.tenant, clientID: clientID, audience: audience, expires: exp}
	return tok, exp
}

// normalizeAudience maps a scope ("https://vault.test:1234/.default") or resource to an audience.
func normalizeAudience(scope string) string {
	return strings.TrimSuffix(strings.TrimSuffix(scope, "/.default"), "/")
}

// authorize checks the bearer token and the grant. It returns the client ID, or writes the 401
// challenge or 403 answer and returns ok=false. counted reports whether the request was counted.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, op, vault string, need Perm) (string, bool) {
	tok, hasTok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	info, known := s.tokens[tok]
	valid := hasTok && known && time.Now().Before(info.expires) && info.audience == s.vaultResource()
	if !valid {
		if hasTok {
			s.counts["Unauthorized"]++
		} else {
			s.counts["Challenge"]++
		}
		s.mu.Unlock()
		s.challenge(w)
		return "", false
	}
	s.counts[op]++
	perm := s.grants[grantKey{info.clientID, vault}]
	s.mu.Unlock()
	if perm < need {
		writeKVError(w, http.StatusForbidden, "Forbidden", fmt.Sprintf(
			"The user, group or application 'appid=%s;tenant=%s' does not have %s permission on key vault '%s'. Grant it with Grant(%q, %q, perm).",
			info.clientID, info.tenant, need, vault, info.clientID, vault))
		return "", false
	}
	return info.clientID, true
}

// challenge answers 401 with the Key Vault bearer challenge the SDK's challenge policy parses.
func (s *Server) challenge(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization="%s%s", resource="%s"`,
		s.AuthorityHost(), s.tenant, s.vaultResource()))
	writeKVError(w, http.StatusUnauthorized, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
}
