// Package kubetest runs a real etcd and kube-apiserver for tests, in the
// spirit of controller-runtime's envtest but without controller-runtime: the
// same API server that production talks to validates every object, enforces
// the CRD schemas and RBAC, so tests cannot pass against behaviour a fake
// client invents.
//
// The binaries are built from the Go module proxy by `make tools` (see
// tools.mk) and found through SECRETFS_KUBE_APISERVER and SECRETFS_ETCD. A
// test binary without them fails rather than skips: CI must run these tests.
//
// Startup costs about five seconds, so a package normally shares one cluster
// through Main in its TestMain; a test that stops or restarts the API server
// starts its own with Start. Processes run in their own process group and die
// with the test binary (Linux: parent-death signal), so a test that times out
// leaves nothing running.
package kubetest
