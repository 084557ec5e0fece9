package emulator

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// jwtBearer is the client_assertion_type of federated (workload identity) credentials.
const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// entraMux serves what MSAL calls with instance discovery disabled: the tenant's OpenID
// configuration and its v2.0 token endpoint.
func (s *Server) entraMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.openIDConfiguration)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.issueToken)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeOAuthError(w, http.StatusNotFound, "invalid_request", "AADSTS900561: The endpoint "+r.URL.Path+" is not emulated.")
	})
	return mux
}

// oauthError is Entra ID's error body; MSAL surfaces error_description to azidentity.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Codes       []int  `json:"error_codes,omitempty"`
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, oauthError{Error: code, Description: desc})
}

// knownTenant answers 400 (as Entra does for a tenant it does not know) unless tenant is ours.
func (s *Server) knownTenant(w http.ResponseWriter, tenant string) bool {
	if strings.EqualFold(tenant, s.tenant) {
		return true
	}
	writeOAuthError(w, http.StatusBadRequest, "invalid_request",
		"AADSTS90002: Tenant '"+tenant+"' not found. The emulator's tenant is "+s.tenant+".")
	return false
}

func (s *Server) openIDConfiguration(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if !s.knownTenant(w, tenant) {
		return
	}
	base := strings.TrimSuffix(s.AuthorityHost(), "/") + "/" + tenant
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                base + "/v2.0",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"tenant_region_scope":                   nil,
	})
}

// issueToken is the client-credentials grant with client_secret or client_assertion.
// A token fault (SetTokenFault) applies after counting.
func (s *Server) issueToken(w http.ResponseWriter, r *http.Request) {
	s.countOp("Token")
	reply := func(w http.ResponseWriter) { s.tokenReply(w, r) }
	if !s.tokenFaulted(w, r, reply) {
		reply(w)
	}
}

// tokenReply answers a token request.
func (s *Server) tokenReply(w http.ResponseWriter, r *http.Request) {
	if s.injectTokenError(w) {
		return
	}
	if !s.knownTenant(w, r.PathValue("tenant")) {
		return
	}
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: malformed form body.")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "AADSTS70003: The emulator supports only client_credentials, not '"+gt+"'.")
		return
	}
	clientID := r.PostForm.Get("client_id")
	if status, code, desc := s.checkClientCredential(clientID, r.PostForm); status != 0 {
		writeOAuthError(w, status, code, desc)
		return
	}
	audience := normalizeAudience(firstField(r.PostForm.Get("scope")))
	s.mu.Lock()
	tok, exp := s.issueLocked(clientID, audience)
	s.mu.Unlock()
	secs := int(time.Until(exp).Seconds())
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type": "Bearer", "access_token": tok, "expires_in": secs, "ext_expires_in": secs,
	})
}

// checkClientCredential verifies the client's secret or assertion; it returns the error to send,
// or status 0. Neither the secret nor the assertion ever appears in the description.
func (s *Server) checkClientCredential(clientID string, form map[string][]string) (int, string, string) {
	s.mu.Lock()
	id := s.clients[clientID]
	s.mu.Unlock()
	get := func(k string) string {
		if v := form[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	switch {
	case id == nil || id.kind == managedIdentity:
		return http.StatusBadRequest, "unauthorized_client", "AADSTS700016: Application with identifier '" + clientID + "' was not found in the directory '" + s.tenant + "'."
	case id.kind == servicePrincipal && get("client_secret") != "" && get("client_secret") == id.secret:
		return 0, "", ""
	case id.kind == servicePrincipal:
		return http.StatusUnauthorized, "invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '" + clientID + "'."
	case get("client_assertion_type") == jwtBearer && get("client_assertion") != "" && id.accept(get("client_assertion")):
		return 0, "", ""
	default:
		return http.StatusUnauthorized, "invalid_client", "AADSTS700213: No matching federated identity record found for presented assertion for app '" + clientID + "'."
	}
}

// countOp counts one request of op.
func (s *Server) countOp(op string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[op]++
}

// serveManagedIdentity is the App Service managed identity protocol (IDENTITY_ENDPOINT with the
// X-IDENTITY-HEADER secret, api-version 2019-08-01). A request without client_id gets the only
// registered managed identity, standing in for a system-assigned one.
func (s *Server) serveManagedIdentity(w http.ResponseWriter, r *http.Request) {
	s.countOp("Token")
	if r.Header.Get("X-IDENTITY-HEADER") != s.miHeader {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_request", "The X-IDENTITY-HEADER header is missing or wrong; use the header returned by ManagedIdentityEndpoint.")
		return
	}
	q := r.URL.Query()
	resource := q.Get("resource")
	if r.URL.Path != "/msi/token" || resource == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Expected GET /msi/token?resource=…&api-version=2019-08-01.")
		return
	}
	clientID, ok := s.managedIdentityFor(q.Get("client_id"))
	if !ok {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "No managed identity with client_id '"+q.Get("client_id")+"' is assigned; register it with AddManagedIdentity.")
		return
	}
	s.mu.Lock()
	tok, exp := s.issueLocked(clientID, normalizeAudience(resource))
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "expires_on": strconv.FormatInt(exp.Unix(), 10),
		"resource": resource, "token_type": "Bearer", "client_id": clientID,
	})
}

// managedIdentityFor resolves the requested client ID ("" = the only managed identity).
func (s *Server) managedIdentityFor(clientID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if clientID != "" {
		id := s.clients[clientID]
		return clientID, id != nil && id.kind == managedIdentity
	}
	found := ""
	for cid, id := range s.clients {
		if id.kind == managedIdentity {
			if found != "" {
				return "", false
			}
			found = cid
		}
	}
	return found, found != ""
}

// firstField returns the first space-separated field of s, or "".
func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}
