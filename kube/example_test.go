package kube_test

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/client-go/rest"

	"github.com/secretfs/secretfs/kube"
)

// A node answers NodePublishVolume from the cache: Start once, Get per
// publish, Close on shutdown.
func ExampleClasses() {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		fmt.Println(err)
		return
	}
	classes, err := kube.NewClasses(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	classes.Start(context.Background())
	defer classes.Close()

	spc, err := classes.Get("app", "azure-kv")
	switch {
	case errors.Is(err, kube.ErrNotFound):
		fmt.Println("create the SecretProviderClass in the pod's namespace")
	case err != nil:
		fmt.Println(err)
	default:
		fmt.Println(spc.Spec.Provider)
	}
}
