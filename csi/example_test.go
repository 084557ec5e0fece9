package csi_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"

	"github.com/secretfs/secretfs/csi"
)

// Sanitize is what the server's logging interceptor applies to every
// request: secrets and service account tokens are replaced, the rest kept.
func ExampleSanitize() {
	req := &csipb.NodePublishVolumeRequest{
		VolumeId: "csi-1234",
		Secrets:  map[string]string{"clientid": "app", "clientsecret": "hunter2"},
		VolumeContext: map[string]string{
			"secretProviderClass":                      "spc",
			"csi.storage.k8s.io/serviceAccount.tokens": `{"api://AzureADTokenExchange":{"token":"eyJ..."}}`,
		},
	}
	clean := csi.Sanitize(req).(*csipb.NodePublishVolumeRequest)
	fmt.Println(clean.GetVolumeId())
	fmt.Println(clean.GetSecrets()["clientsecret"])
	fmt.Println(clean.GetVolumeContext()["secretProviderClass"])
	fmt.Println(clean.GetVolumeContext()["csi.storage.k8s.io/serviceAccount.tokens"])
	fmt.Println(req.GetSecrets()["clientsecret"]) // the request itself is untouched
	// Output:
	// csi-1234
	// ***stripped***
	// spc
	// ***stripped***
	// hunter2
}

// A node process builds the state from the file of its previous run, then
// serves kubelet until SIGTERM. The Mounter is package volume's Manager;
// the classes come from kube.NewClasses.
func ExampleNodeServer_Serve() {
	state, err := csi.OpenState("/var/run/secretfs/state.json")
	if err != nil {
		slog.Error("state", "err", err)
		return
	}
	for _, e := range state.Entries() {
		slog.Info("mounted before restart", "target", e.TargetPath, "class", e.Class)
	}
	var (
		classes csi.ClassGetter // *kube.Classes
		mounter csi.Mounter     // *volume.Manager
	)
	srv := csi.NewNodeServer(csi.Config{NodeID: "node-1", Backend: "fuse", State: state, Logger: slog.Default()}, classes, mounter)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := srv.Serve(ctx, "unix:///csi/csi.sock"); err != nil {
		slog.Error("serve", "err", err)
	}
}
