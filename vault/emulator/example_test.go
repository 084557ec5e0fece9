package emulator_test

import (
	"context"
	"fmt"
	"log"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/secretfs/secretfs/vault/emulator"
)

// Example shows the real SDK reading a secret from the emulator with challenge-resource
// verification left on: the credential and the client share the emulator's HTTP client.
func Example() {
	s, err := emulator.Start(emulator.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	s.AddServicePrincipal("app", "client-secret")
	s.Grant("app", "myvault", emulator.Read)
	s.SetSecret("myvault", "db-password", "hunter2", "text/plain")

	opts := azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: s.AuthorityHost()}, Transport: s.HTTPClient()}
	cred, err := azidentity.NewClientSecretCredential(s.TenantID(), "app", "client-secret",
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		log.Fatal(err)
	}
	client, err := azsecrets.NewClient(s.VaultURL("myvault"), cred, &azsecrets.ClientOptions{ClientOptions: opts})
	if err != nil {
		log.Fatal(err)
	}
	got, err := client.GetSecret(context.Background(), "db-password", "", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(*got.Value, s.Count("GetSecret"))
	// Output: hunter2 1
}
