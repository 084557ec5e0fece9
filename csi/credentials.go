package csi

import (
	"github.com/container-storage-interface/spec/lib/go/csi"

	"github.com/secretfs/secretfs/vault"
)

// podCredentials collects what the pod brings to authenticate in the
// identity mode the parameters select: nothing for the node's managed
// identity; a service account token for workload identity (from the volume
// context, or the secrets when the CSIDriver sets
// serviceAccountTokenInSecrets); else a client ID and secret from
// nodePublishSecretRef. The result is secret: it goes to the Mounter and
// nowhere else.
func podCredentials(req *csi.NodePublishVolumeRequest, p *vault.Params) (vault.PodCredentials, error) {
	secrets := req.GetSecrets()
	switch {
	case p.UseVMManagedIdentity:
		return vault.PodCredentials{}, nil
	case p.ClientID != "":
		return workloadIdentity(req.GetVolumeContext()[keyTokens], secrets[keyTokens])
	}
	c := vault.PodCredentials{ClientID: secrets[vault.SecretKeyClientID], ClientSecret: secrets[vault.SecretKeyClientSecret]}
	switch {
	case c.ClientID == "" && c.ClientSecret == "":
		return c, precondition("no pod credentials: set nodePublishSecretRef to a Secret with keys %s and %s, or use workload identity (parameter %s)",
			vault.SecretKeyClientID, vault.SecretKeyClientSecret, vault.ParamClientID)
	case c.ClientID == "":
		return c, precondition("nodePublishSecretRef: key %s missing", vault.SecretKeyClientID)
	case c.ClientSecret == "":
		return c, precondition("nodePublishSecretRef: key %s missing", vault.SecretKeyClientSecret)
	}
	return c, nil
}

// workloadIdentity takes the token for api://AzureADTokenExchange from the
// tokens kubelet passed, preferring the volume context.
func workloadIdentity(fromContext, fromSecrets string) (vault.PodCredentials, error) {
	raw := fromContext
	if raw == "" {
		raw = fromSecrets
	}
	if raw == "" {
		return vault.PodCredentials{}, precondition("workload identity (parameter %s): the pod's service account token is missing (%s); the CSIDriver object needs spec.tokenRequests with audience %s",
			vault.ParamClientID, keyTokens, vault.WorkloadIdentityAudience)
	}
	tok, err := vault.ParseServiceAccountTokens(raw)
	if err != nil {
		// vault's parse errors name the key and the shape, never a token.
		return vault.PodCredentials{}, precondition("workload identity: %w", err)
	}
	return vault.PodCredentials{ServiceAccountToken: tok}, nil
}
