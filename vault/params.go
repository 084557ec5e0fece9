package vault

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Params is a validated SecretProviderClass `parameters` map.
type Params struct {
	VaultName              string
	TenantID               string
	ClientID               string // workload identity client ID ("clientID")
	UseVMManagedIdentity   bool
	UserAssignedIdentityID string
	Cloud                  Cloud
	Objects                []Object
}

// The parameter keys of the Azure provider.
const (
	ParamKeyvaultName           = "keyvaultName"
	ParamTenantID               = "tenantID"
	ParamTenantIDDeprecated     = "tenantId"
	ParamObjects                = "objects"
	ParamUsePodIdentity         = "usePodIdentity"
	ParamUseVMManagedIdentity   = "useVMManagedIdentity"
	ParamUserAssignedIdentityID = "userAssignedIdentityID"
	ParamClientID               = "clientID"
	ParamCloudName              = "cloudName"
	ParamCloudEnvFileName       = "cloudEnvFileName"
)

// vaultNameRE is Key Vault's rule: 3-24 characters, letters, digits and
// hyphens, starting with a letter.
var vaultNameRE = regexp.MustCompile(`^[A-Za-z][-A-Za-z0-9]{2,23}$`)

// ParseOptions is what the node allows a SecretProviderClass to reach.
type ParseOptions struct {
	// CloudEnvDir is the only directory a cloudEnvFileName may name a file
	// in (the node's --cloud-env-dir). "" refuses cloudName AzureStackCloud
	// with an error telling the operator to set it: the file is read as
	// root and names the endpoint credentials are sent to, so a class author
	// must not choose an arbitrary node path (say, a file in their pod's
	// emptyDir).
	CloudEnvDir string
}

// ParseParameters validates a SecretProviderClass `parameters` map (which, in a
// CSI request, also carries the csi.storage.k8s.io/* pod attributes; keys this
// package does not know are ignored). For cloudName AzureStackCloud it reads the
// cloudEnvFileName file from opts.CloudEnvDir: a regular file of at most
// MaxCloudEnvFileSize bytes, read until ctx ends at the latest. Errors wrap
// ErrInvalid and name the field.
func ParseParameters(ctx context.Context, params map[string]string, opts ParseOptions) (*Params, error) {
	get := func(k string) string { return strings.TrimSpace(params[k]) }
	p := &Params{
		VaultName:              get(ParamKeyvaultName),
		TenantID:               get(ParamTenantID),
		ClientID:               get(ParamClientID),
		UserAssignedIdentityID: get(ParamUserAssignedIdentityID),
	}
	if err := checkVaultName(p.VaultName, params); err != nil {
		return nil, err
	}
	if p.TenantID == "" {
		p.TenantID = get(ParamTenantIDDeprecated)
	}
	if p.TenantID == "" {
		return nil, invalidf("%s: missing; set it to the Entra ID tenant (directory) ID of the vault", ParamTenantID)
	}
	if err := p.parseIdentity(get); err != nil {
		return nil, err
	}
	var err error
	if p.Cloud, err = parseCloud(ctx, get(ParamCloudName), get(ParamCloudEnvFileName), opts.CloudEnvDir); err != nil {
		return nil, err
	}
	if p.Objects, err = ParseObjects(params[ParamObjects]); err != nil {
		return nil, err
	}
	return p, nil
}

// checkVaultName validates keyvaultName, pointing at a miscased key if there is one.
func checkVaultName(name string, params map[string]string) error {
	if name == "" {
		for k := range params {
			if strings.EqualFold(k, ParamKeyvaultName) {
				return invalidf("%s: missing (found %q: parameter names are case-sensitive)", ParamKeyvaultName, k)
			}
		}
		return invalidf("%s: missing; set it to the name of the Key Vault", ParamKeyvaultName)
	}
	if !vaultNameRE.MatchString(name) {
		return invalidf("%s %q: must be 3-24 characters of letters, digits and -, starting with a letter", ParamKeyvaultName, name)
	}
	return nil
}

// parseIdentity reads the identity-mode switches.
func (p *Params) parseIdentity(get func(string) string) error {
	podIdentity, err := parseBool(ParamUsePodIdentity, get(ParamUsePodIdentity))
	if err != nil {
		return err
	}
	if podIdentity {
		return invalidf("%s: pod identity (aad-pod-identity) is deprecated and not supported; use workload identity: set %s to the identity's client ID and federate it with the pod's service account", ParamUsePodIdentity, ParamClientID)
	}
	// userAssignedIdentityID without useVMManagedIdentity is ignored, as upstream
	// ignores it: refusing would break SecretProviderClasses that work today.
	p.UseVMManagedIdentity, err = parseBool(ParamUseVMManagedIdentity, get(ParamUseVMManagedIdentity))
	return err
}

func parseBool(field, s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, invalidf("%s %q: must be \"true\" or \"false\"", field, s)
	}
	return b, nil
}

// VaultURL is the vault's base URL, https://<vault>.<suffix>/.
func (p *Params) VaultURL() string {
	return "https://" + p.VaultName + "." + p.Cloud.KeyVaultDNSSuffix + "/"
}

// Scope is the token scope for the cloud's vaults. It is what the Key Vault
// clients ask for after the challenge (resource + "/.default"), so a token got
// with it lands in the same azidentity cache entry the clients use.
func Scope(p *Params) string {
	return (&url.URL{Scheme: "https", Host: p.Cloud.KeyVaultDNSSuffix, Path: "/.default"}).String()
}

// File is one file of a volume: an object at its current version, or history entry i of it.
type File struct {
	Path    string // "name" or "name/0".."name/N-1" (slash-separated, relative)
	Object  Object
	History int // -1 for the object itself; else index into newest-enabled-first versions
}

// Files lists the volume's files in object order; an object with
// VersionHistory N contributes name/0 (newest) .. name/N-1.
func (p *Params) Files() []File {
	var files []File
	for _, o := range p.Objects {
		if o.VersionHistory == 0 {
			files = append(files, File{Path: o.FileName(), Object: o, History: -1})
			continue
		}
		for i := range o.VersionHistory {
			files = append(files, File{Path: fmt.Sprintf("%s/%d", o.FileName(), i), Object: o, History: i})
		}
	}
	return files
}
