package kubetest_test

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/secretfs/secretfs/kube/kubetest"
)

// cluster is shared by the tests of a package.
var cluster *kubetest.Cluster

// ExampleMain shows the usual wiring: one cluster per test binary, started
// in TestMain, with the CRDs applied by the tests that need them.
func ExampleMain() {
	var m *testing.M // the *testing.M that TestMain receives
	testMain := func(m *testing.M) {
		kubetest.Main(m, func(c *kubetest.Cluster) { cluster = c })
	}
	_ = testMain
	_ = m
}

// ExampleCluster_Restart shows a test of a briefly unavailable API server.
func ExampleCluster_Restart() {
	testFunc := func(t *testing.T) {
		c := kubetest.Start(t) // its own cluster: it will be stopped
		c.ApplyCRDs(t)
		c.StopAPIServer()
		// ... the code under test sees the API server gone ...
		c.Restart(t)
		_, err := c.Client.CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	_ = testFunc
}
