package vault

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// Cloud is the Azure environment a vault lives in: where Entra ID tokens come
// from and which DNS suffix vault names hang under.
type Cloud struct {
	Name                    string // AzurePublicCloud, AzureUSGovernmentCloud, AzureChinaCloud, AzureStackCloud
	ActiveDirectoryEndpoint string // e.g. https://login.microsoftonline.com/
	KeyVaultDNSSuffix       string // e.g. vault.azure.net (may carry :port for a custom cloud)
}

// The cloudName values, spelled as the Azure provider (go-autorest) spells them.
const (
	AzurePublicCloud       = "AzurePublicCloud"
	AzureUSGovernmentCloud = "AzureUSGovernmentCloud"
	AzureChinaCloud        = "AzureChinaCloud"
	AzureStackCloud        = "AzureStackCloud"
)

// knownClouds are the sovereign clouds with fixed endpoints.
var knownClouds = []Cloud{
	{AzurePublicCloud, "https://login.microsoftonline.com/", "vault.azure.net"},
	{AzureUSGovernmentCloud, "https://login.microsoftonline.us/", "vault.usgovcloudapi.net"},
	{AzureChinaCloud, "https://login.chinacloudapi.cn/", "vault.azure.cn"},
}

// Custom reports whether the cloud's endpoints came from a cloudEnvFileName file.
// Entra ID instance discovery only knows the public authorities, so credentials
// for a custom cloud must skip it.
func (c Cloud) Custom() bool { return c.Name == AzureStackCloud }

// parseCloud resolves cloudName (any letter case, default AzurePublicCloud).
// AzureStackCloud reads its endpoints from envFile, as go-autorest does from
// AZURE_ENVIRONMENT_FILEPATH; other clouds ignore envFile, as the provider does.
func parseCloud(name, envFile string) (Cloud, error) {
	if name == "" {
		name = AzurePublicCloud
	}
	for _, c := range knownClouds {
		if strings.EqualFold(name, c.Name) {
			return c, nil
		}
	}
	if !strings.EqualFold(name, AzureStackCloud) {
		return Cloud{}, invalidf("cloudName %q: must be one of %s, %s, %s, %s",
			name, AzurePublicCloud, AzureUSGovernmentCloud, AzureChinaCloud, AzureStackCloud)
	}
	if envFile == "" {
		return Cloud{}, invalidf("cloudName %s needs cloudEnvFileName: the path, on the node, of a JSON file with activeDirectoryEndpoint and keyVaultDNSSuffix", AzureStackCloud)
	}
	return readCloudEnvFile(envFile)
}

// cloudEnvFile is the part of go-autorest's Environment JSON that we use.
type cloudEnvFile struct {
	ActiveDirectoryEndpoint string `json:"activeDirectoryEndpoint"`
	KeyVaultDNSSuffix       string `json:"keyVaultDNSSuffix"`
}

func readCloudEnvFile(path string) (Cloud, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Cloud{}, fmt.Errorf("%w: cloudEnvFileName %q: %w", ErrInvalid, path, err)
	}
	var f cloudEnvFile
	if err := json.Unmarshal(data, &f); err != nil {
		return Cloud{}, invalidf("cloudEnvFileName %q: not JSON: %v", path, err)
	}
	aad, err := checkAuthority(f.ActiveDirectoryEndpoint)
	if err != nil {
		return Cloud{}, fmt.Errorf("cloudEnvFileName %q: %w", path, err)
	}
	suffix, err := checkDNSSuffix(f.KeyVaultDNSSuffix)
	if err != nil {
		return Cloud{}, fmt.Errorf("cloudEnvFileName %q: %w", path, err)
	}
	return Cloud{Name: AzureStackCloud, ActiveDirectoryEndpoint: aad, KeyVaultDNSSuffix: suffix}, nil
}

// checkAuthority requires an https URL (tokens never travel over http) and
// returns it with a trailing slash.
func checkAuthority(s string) (string, error) {
	u, err := url.Parse(s)
	if s == "" || err != nil || u.Scheme != "https" || u.Host == "" {
		return "", invalidf("activeDirectoryEndpoint %q: must be an https URL such as https://login.microsoftonline.com/", s)
	}
	return strings.TrimSuffix(s, "/") + "/", nil
}

// checkDNSSuffix requires a bare host[:port] such as vault.azure.net.
func checkDNSSuffix(s string) (string, error) {
	s = strings.TrimPrefix(s, ".")
	u, err := url.Parse("https://v." + s)
	if s == "" || err != nil || u.Host != "v."+s || u.Hostname() == "" {
		return "", invalidf("keyVaultDNSSuffix %q: must be a host name with an optional port, such as vault.azure.net", s)
	}
	return s, nil
}
