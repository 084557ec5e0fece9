package secretsync_test

import (
	"log"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"

	"github.com/secretfs/secretfs/kube"
	"github.com/secretfs/secretfs/kube/secretsync"
	"github.com/secretfs/secretfs/volume"
)

// The node plugin wires the writer between the volume manager and the API
// server, as `secretfs node --sync-secrets` does.
func ExampleNew() {
	var (
		cfg     *rest.Config    // the node's access to the API server
		classes *kube.Classes   // the SecretProviderClass cache the CSI service uses too
		manager *volume.Manager // mounts volumes for the CSI node service
	)
	writer, err := secretsync.New(cfg, classes, secretsync.Options{NodeName: "node-1", Registerer: prometheus.NewRegistry()})
	if err != nil {
		log.Fatal(err)
	}
	defer writer.Close()
	manager.SetObserver(writer)
}
