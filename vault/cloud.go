package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
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
// envDir is the only directory envFile may name a file in (see readCloudEnv).
func parseCloud(ctx context.Context, name, envFile, envDir string) (Cloud, error) {
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
	return loadCloudEnv(ctx, envDir, envFile)
}

// cloudEnvFile is the part of go-autorest's Environment JSON that we use.
type cloudEnvFile struct {
	ActiveDirectoryEndpoint string `json:"activeDirectoryEndpoint"`
	KeyVaultDNSSuffix       string `json:"keyVaultDNSSuffix"`
}

// loadCloudEnv reads and checks a cloudEnvFileName file. The file may hold
// anything (it is whatever sits at a path a SecretProviderClass author chose
// inside the allowed directory), so no error quotes its content: they name
// the field, or the byte offset of a syntax error.
func loadCloudEnv(ctx context.Context, dir, path string) (Cloud, error) {
	data, err := readCloudEnv(ctx, dir, path)
	if err != nil {
		return Cloud{}, err
	}
	var f cloudEnvFile
	if err := json.Unmarshal(data, &f); err != nil {
		return Cloud{}, invalidf("%s %q: %s", ParamCloudEnvFileName, path, jsonProblem(err))
	}
	aad, err := checkAuthority(f.ActiveDirectoryEndpoint)
	if err != nil {
		return Cloud{}, fmt.Errorf("%s %q: %w", ParamCloudEnvFileName, path, err)
	}
	suffix, err := checkDNSSuffix(f.KeyVaultDNSSuffix)
	if err != nil {
		return Cloud{}, fmt.Errorf("%s %q: %w", ParamCloudEnvFileName, path, err)
	}
	return Cloud{Name: AzureStackCloud, ActiveDirectoryEndpoint: aad, KeyVaultDNSSuffix: suffix}, nil
}

// jsonProblem describes a json.Unmarshal error without the bytes it may quote
// (a SyntaxError's message holds the offending character, an
// UnmarshalTypeError's the offending literal).
func jsonProblem(err error) string {
	const want = "want a JSON object with string fields activeDirectoryEndpoint and keyVaultDNSSuffix"
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("not JSON (syntax error at byte offset %d); %s", syn.Offset, want)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Sprintf("field %s is not a string (byte offset %d); %s", typ.Field, typ.Offset, want)
	default:
		return "not a JSON object; " + want
	}
}

// checkAuthority requires an https URL (tokens never travel over http) and
// returns it with a trailing slash. The error does not quote s: it comes
// from a file whose content must not reach events.
func checkAuthority(s string) (string, error) {
	u, err := url.Parse(s)
	if s == "" || err != nil || u.Scheme != "https" || u.Host == "" {
		return "", invalidf("activeDirectoryEndpoint: missing or not an https URL; want one such as https://login.microsoftonline.com/")
	}
	return strings.TrimSuffix(s, "/") + "/", nil
}

// checkDNSSuffix requires a bare host[:port] such as vault.azure.net.
func checkDNSSuffix(s string) (string, error) {
	s = strings.TrimPrefix(s, ".")
	u, err := url.Parse("https://v." + s)
	if s == "" || err != nil || u.Host != "v."+s || u.Hostname() == "" {
		return "", invalidf("keyVaultDNSSuffix: missing or not a host name with an optional port; want one such as vault.azure.net")
	}
	return s, nil
}
