package vault

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func baseParams() map[string]string {
	return map[string]string{
		"keyvaultName":                           "kv-1",
		"tenantID":                               "tenant-a",
		"objects":                                objectsYAML("objectName: a\nobjectType: secret"),
		"csi.storage.k8s.io/pod.name":            "p",
		"csi.storage.k8s.io/pod.uid":             "u",
		"csi.storage.k8s.io/ephemeral":           "false",
		"secretProviderClass":                    "spc",
		"csi.storage.k8s.io/serviceAccount.name": "default",
	}
}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "<delete>" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

// writeCloudEnv writes a cloud environment file named name into dir.
func writeCloudEnv(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// parse parses params on a node that allows cloud environment files in dir.
func parse(t *testing.T, params map[string]string, dir string) (*Params, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return ParseParameters(ctx, params, ParseOptions{CloudEnvDir: dir})
}

var secretA = []Object{{Name: "a", Type: TypeSecret, Encoding: "utf-8", Format: "pem", FileMode: 0o644}}

func TestParseParameters(t *testing.T) {
	dir := t.TempDir()
	stack := writeCloudEnv(t, dir, "cloud.json", `{"name":"AzureStackCloud","activeDirectoryEndpoint":"https://login.stack.test:9443","keyVaultDNSSuffix":"vault.stack.test:8443","resourceManagerEndpoint":"https://x"}`)
	public := Cloud{AzurePublicCloud, "https://login.microsoftonline.com/", "vault.azure.net"}
	tests := []struct {
		name   string
		params map[string]string
		want   Params
	}{
		{"service principal, defaults", baseParams(),
			Params{VaultName: "kv-1", TenantID: "tenant-a", Cloud: public, Objects: secretA}},
		{"deprecated tenantId", with(baseParams(), "tenantID", "<delete>", "tenantId", "tenant-b"),
			Params{VaultName: "kv-1", TenantID: "tenant-b", Cloud: public, Objects: secretA}},
		{"workload identity", with(baseParams(), "clientID", "client-1", "usePodIdentity", "false"),
			Params{VaultName: "kv-1", TenantID: "tenant-a", ClientID: "client-1", Cloud: public, Objects: secretA}},
		{"user-assigned managed identity", with(baseParams(), "useVMManagedIdentity", "true", "userAssignedIdentityID", "mi-1"),
			Params{VaultName: "kv-1", TenantID: "tenant-a", UseVMManagedIdentity: true, UserAssignedIdentityID: "mi-1", Cloud: public, Objects: secretA}},
		{"cloud name any case", with(baseParams(), "cloudName", "azurechinacloud"),
			Params{VaultName: "kv-1", TenantID: "tenant-a", Cloud: Cloud{AzureChinaCloud, "https://login.chinacloudapi.cn/", "vault.azure.cn"}, Objects: secretA}},
		{"us government", with(baseParams(), "cloudName", "AzureUSGovernmentCloud"),
			Params{VaultName: "kv-1", TenantID: "tenant-a", Cloud: Cloud{AzureUSGovernmentCloud, "https://login.microsoftonline.us/", "vault.usgovcloudapi.net"}, Objects: secretA}},
		{"custom cloud from file", with(baseParams(), "cloudName", "AzureStackCloud", "cloudEnvFileName", stack),
			Params{VaultName: "kv-1", TenantID: "tenant-a", Cloud: Cloud{AzureStackCloud, "https://login.stack.test:9443/", "vault.stack.test:8443"}, Objects: secretA}},
		{"whitespace trimmed", with(baseParams(), "keyvaultName", " kv-1 ", "useVMManagedIdentity", " true "),
			Params{VaultName: "kv-1", TenantID: "tenant-a", UseVMManagedIdentity: true, Cloud: public, Objects: secretA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(t, tt.params, dir)
			if err != nil {
				t.Fatalf("ParseParameters: %v", err)
			}
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("ParseParameters (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseParametersRefuses(t *testing.T) {
	dir := t.TempDir()
	noSuffix := writeCloudEnv(t, dir, "no-suffix.json", `{"activeDirectoryEndpoint":"https://login.stack.test/"}`)
	httpAAD := writeCloudEnv(t, dir, "http.json", `{"activeDirectoryEndpoint":"http://login.stack.test/","keyVaultDNSSuffix":"vault.stack.test"}`)
	notJSON := writeCloudEnv(t, dir, "yaml.json", `activeDirectoryEndpoint: x`)
	tests := []struct {
		name   string
		params map[string]string
		want   []string
	}{
		{"no vault name", with(baseParams(), "keyvaultName", "<delete>"), []string{"keyvaultName: missing"}},
		{"miscased vault key", with(baseParams(), "keyvaultName", "<delete>", "keyVaultName", "kv"), []string{"keyVaultName", "case-sensitive"}},
		{"vault name too short", with(baseParams(), "keyvaultName", "kv"), []string{"keyvaultName \"kv\"", "3-24"}},
		{"vault name too long", with(baseParams(), "keyvaultName", strings.Repeat("k", 25)), []string{"3-24"}},
		{"vault name bad char", with(baseParams(), "keyvaultName", "kv_1"), []string{"keyvaultName \"kv_1\""}},
		{"vault name starts with digit", with(baseParams(), "keyvaultName", "1kv"), []string{"starting with a letter"}},
		{"vault name with dot", with(baseParams(), "keyvaultName", "kv.evil.com"), []string{"keyvaultName"}},
		{"no tenant", with(baseParams(), "tenantID", "<delete>"), []string{"tenantID: missing"}},
		{"pod identity", with(baseParams(), "usePodIdentity", "true"), []string{"usePodIdentity", "deprecated", "workload identity"}},
		{"bad bool", with(baseParams(), "useVMManagedIdentity", "yes"), []string{"useVMManagedIdentity \"yes\"", "\"true\" or \"false\""}},
		{"unknown cloud", with(baseParams(), "cloudName", "AzureGermanCloud"), []string{"cloudName \"AzureGermanCloud\"", "AzurePublicCloud"}},
		{"stack without file", with(baseParams(), "cloudName", "AzureStackCloud"), []string{"cloudEnvFileName"}},
		{"stack file missing", with(baseParams(), "cloudName", "AzureStackCloud", "cloudEnvFileName", filepath.Join(dir, "nope.json")), []string{"cloudEnvFileName \"" + filepath.Join(dir, "nope.json") + "\"", "no such file"}},
		{"stack file without suffix", with(baseParams(), "cloudName", "AzureStackCloud", "cloudEnvFileName", noSuffix), []string{"keyVaultDNSSuffix"}},
		{"stack file with http authority", with(baseParams(), "cloudName", "AzureStackCloud", "cloudEnvFileName", httpAAD), []string{"activeDirectoryEndpoint", "https"}},
		{"stack file not JSON", with(baseParams(), "cloudName", "AzureStackCloud", "cloudEnvFileName", notJSON), []string{"not JSON"}},
		{"no objects", with(baseParams(), "objects", "<delete>"), []string{"objects: empty"}},
		{"bad object", with(baseParams(), "objects", objectsYAML("objectName: a\nobjectType: secret\nfilePermission: abc")), []string{"objects[0]", "filePermission"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(t, tt.params, dir)
			if err == nil {
				t.Fatalf("ParseParameters = %+v, want an error", got)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %q is not ErrInvalid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestVaultURLAndScope(t *testing.T) {
	tests := []struct {
		name             string
		cloud            Cloud
		wantURL, wantScp string
	}{
		{"public", knownClouds[0], "https://kv-1.vault.azure.net/", "https://vault.azure.net/.default"},
		{"china", knownClouds[2], "https://kv-1.vault.azure.cn/", "https://vault.azure.cn/.default"},
		{"custom with port", Cloud{AzureStackCloud, "https://login.test/", "vault.test:8443"}, "https://kv-1.vault.test:8443/", "https://vault.test:8443/.default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Params{VaultName: "kv-1", Cloud: tt.cloud}
			if diff := cmp.Diff([2]string{tt.wantURL, tt.wantScp}, [2]string{p.VaultURL(), Scope(p)}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestFiles(t *testing.T) {
	objs, err := ParseObjects(objectsYAML(
		"objectName: a\nobjectType: secret",
		"objectName: b\nobjectType: key\nobjectAlias: bee\nobjectVersionHistory: 3",
		"objectName: c\nobjectType: cert"))
	if err != nil {
		t.Fatal(err)
	}
	p := &Params{Objects: objs}
	type pathHist struct {
		Path    string
		Name    string
		History int
	}
	var got []pathHist
	for _, f := range p.Files() {
		got = append(got, pathHist{f.Path, f.Object.Name, f.History})
	}
	want := []pathHist{{"a", "a", -1}, {"bee/0", "b", 0}, {"bee/1", "b", 1}, {"bee/2", "b", 2}, {"c", "c", -1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
}
