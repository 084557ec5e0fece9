package vault_test

import (
	"context"
	"fmt"

	"github.com/secretfs/secretfs/vault"
)

// ExampleParseParameters shows a SecretProviderClass's parameters becoming the
// files of a volume.
func ExampleParseParameters() {
	p, err := vault.ParseParameters(context.Background(), map[string]string{
		"keyvaultName": "my-vault",
		"tenantID":     "00000000-0000-0000-0000-000000000001",
		"clientID":     "00000000-0000-0000-0000-000000000002",
		"objects": `array:
  - |
    objectName: db-password
    objectType: secret
  - |
    objectName: tls
    objectType: secret
    objectAlias: tls.pfx
    objectFormat: pfx
    objectEncoding: base64
    filePermission: 0600
  - |
    objectName: signing
    objectType: key
    objectVersionHistory: 2
`,
	}, vault.ParseOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.VaultURL(), vault.Scope(p))
	for _, f := range p.Files() {
		fmt.Printf("%-8s %v %s\n", f.Path, f.Object.FileMode, f.Object.Variant())
	}

	_, err = vault.ParseObjects("array:\n  - |\n    objectName: x\n    objectType: secret\n    filePermission: \"999\"\n")
	fmt.Println(err)
	// Output:
	// https://my-vault.vault.azure.net/ https://vault.azure.net/.default
	// db-password -rw-r--r-- secret/utf-8/pem
	// tls.pfx  -rw------- secret/base64/pfx
	// signing/0 -rw-r--r-- key
	// signing/1 -rw-r--r-- key
	// objects[0]: objectName "x": invalid: filePermission "999": must be an octal mode from 000 to 0777, e.g. "0644" (quote it in YAML)
}
