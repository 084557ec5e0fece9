package vault

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// PodCredentials is what the pod presented: the CSI secrets of its
// nodePublishSecretRef, and its service account token for workload identity.
type PodCredentials struct {
	ClientID, ClientSecret string // nodePublishSecretRef keys clientid/clientsecret
	ServiceAccountToken    string // from csi.storage.k8s.io/serviceAccount.tokens, audience api://AzureADTokenExchange
}

// Identity is who a credential authenticates as; the cache keys on it (never on
// secrets or tokens).
type Identity struct{ TenantID, ClientID string }

// SystemAssignedIdentity is Identity.ClientID for the node's system-assigned
// managed identity, whose client ID the node does not know.
const SystemAssignedIdentity = "system-assigned-managed-identity"

// CredentialOptions configures the credentials NewCredential builds.
type CredentialOptions struct {
	// Transport sends token requests; nil = azcore's default.
	Transport policy.Transporter
}

// WorkloadIdentityAudience is the audience of the service account token
// Entra ID accepts as a federated assertion.
const WorkloadIdentityAudience = "api://AzureADTokenExchange"

// The CSI secret keys of nodePublishSecretRef.
const (
	SecretKeyClientID     = "clientid"
	SecretKeyClientSecret = "clientsecret"
)

// NewCredential chooses like the Azure provider: useVMManagedIdentity →
// ManagedIdentityCredential (user-assigned when userAssignedIdentityID is set);
// clientID parameter + service account token → ClientAssertionCredential
// (workload identity); else clientid/clientsecret → ClientSecretCredential.
// Missing pieces are ErrInvalid errors naming the field and the fix.
func NewCredential(p *Params, pc PodCredentials, opts CredentialOptions) (azcore.TokenCredential, Identity, error) {
	id, err := identityOf(p, pc)
	if err != nil {
		return nil, Identity{}, err
	}
	// Token requests get the same per-try bound and retry limits as Key Vault
	// requests, so a silent Entra endpoint cannot hold a publish (doc.go).
	co := azcore.ClientOptions{Transport: opts.Transport,
		Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: p.Cloud.ActiveDirectoryEndpoint},
		Retry: policy.RetryOptions{MaxRetries: maxRetries, TryTimeout: DefaultTryTimeout, RetryDelay: retryDelay, MaxRetryDelay: maxRetryDelay}}
	var cred azcore.TokenCredential
	switch {
	case p.UseVMManagedIdentity:
		mo := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: co}
		if p.UserAssignedIdentityID != "" {
			mo.ID = azidentity.ClientID(p.UserAssignedIdentityID)
		}
		cred, err = azidentity.NewManagedIdentityCredential(mo)
	case p.ClientID != "":
		token := pc.ServiceAccountToken
		cred, err = azidentity.NewClientAssertionCredential(p.TenantID, p.ClientID,
			func(context.Context) (string, error) { return token, nil },
			&azidentity.ClientAssertionCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: p.Cloud.Custom()})
	default:
		cred, err = azidentity.NewClientSecretCredential(p.TenantID, pc.ClientID, pc.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: p.Cloud.Custom()})
	}
	if err != nil {
		// azidentity's constructor errors are about malformed IDs, never the secret.
		return nil, Identity{}, invalidf("credential for client %q in tenant %q: %s", id.ClientID, id.TenantID, ErrorText(err.Error(), MaxErrorLen))
	}
	return &classifiedCredential{cred: cred, op: fmt.Sprintf("entra id: token for client %q of tenant %q", id.ClientID, id.TenantID)}, id, nil
}

// classifiedCredential passes token errors through classify. azidentity's
// AuthenticationFailedError quotes the whole raw response over many lines;
// whoever asks for a token (the pod credential check, the Key Vault clients'
// bearer policy) gets an *opError instead: one bounded line with the class,
// Entra's status, error code and the first line of its description.
// errors.As still finds the AuthenticationFailedError beneath it.
type classifiedCredential struct {
	cred azcore.TokenCredential
	op   string // e.g. `entra id: token for client "c" of tenant "t"`
}

var _ azcore.TokenCredential = (*classifiedCredential)(nil)

func (c *classifiedCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := c.cred.GetToken(ctx, opts)
	if err != nil {
		return tok, classify(c.op, err)
	}
	return tok, nil
}

// identityOf checks that the chosen mode has what it needs and says who it is.
func identityOf(p *Params, pc PodCredentials) (Identity, error) {
	switch {
	case p.UseVMManagedIdentity:
		id := Identity{TenantID: p.TenantID, ClientID: p.UserAssignedIdentityID}
		if id.ClientID == "" {
			id.ClientID = SystemAssignedIdentity
		}
		return id, nil
	case p.ClientID != "":
		if pc.ServiceAccountToken == "" {
			return Identity{}, invalidf("%s %q selects workload identity, but no service account token for audience %s arrived; the CSIDriver object must list that audience in spec.tokenRequests", ParamClientID, p.ClientID, WorkloadIdentityAudience)
		}
		return Identity{TenantID: p.TenantID, ClientID: p.ClientID}, nil
	case pc.ClientID == "" || pc.ClientSecret == "":
		return Identity{}, invalidf("no credential: set nodePublishSecretRef to a Secret with keys %s and %s, or set %s for workload identity, or %s: \"true\"", SecretKeyClientID, SecretKeyClientSecret, ParamClientID, ParamUseVMManagedIdentity)
	}
	return Identity{TenantID: p.TenantID, ClientID: pc.ClientID}, nil
}

// ParseServiceAccountTokens extracts the workload identity token from the value
// of csi.storage.k8s.io/serviceAccount.tokens:
// {"api://AzureADTokenExchange":{"token":"...","expirationTimestamp":"..."}}.
// Errors never include a token.
func ParseServiceAccountTokens(jsonValue string) (string, error) {
	var tokens map[string]struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(jsonValue), &tokens); err != nil {
		return "", invalidf("csi.storage.k8s.io/serviceAccount.tokens: not a JSON object of audience to token")
	}
	t, ok := tokens[WorkloadIdentityAudience]
	if !ok || strings.TrimSpace(t.Token) == "" {
		return "", invalidf("csi.storage.k8s.io/serviceAccount.tokens: no token for audience %s; add it to the CSIDriver's spec.tokenRequests", WorkloadIdentityAudience)
	}
	return t.Token, nil
}

// TokenRequestOptions is the token request the Key Vault clients make for p's
// vault: Scope(p), the vault's tenant, and CAE enabled (azcore's bearer policy
// always enables it, and azidentity caches CAE and non-CAE tokens apart). A
// caller proving a pod's credential before serving it from the cache must ask
// with exactly these options, or it pays a second Entra ID round trip.
func TokenRequestOptions(p *Params) policy.TokenRequestOptions {
	return policy.TokenRequestOptions{Scopes: []string{Scope(p)}, TenantID: p.TenantID, EnableCAE: true}
}
