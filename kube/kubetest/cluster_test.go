package kubetest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// shared is the cluster every test of this package uses, except those that
// stop the API server.
var shared *Cluster

func TestMain(m *testing.M) {
	Main(m, func(c *Cluster) { shared = c })
}

// transportGoroutines belong to client-go's cached HTTP transports, which
// outlive any one cluster by design.
var transportGoroutines = []goleak.Option{
	goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
	goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	goleak.IgnoreTopFunction("golang.org/x/net/http2.(*ClientConn).readLoop"),
	goleak.IgnoreTopFunction("net/http.(*http2ClientConn).readLoop"),
	goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
}

var (
	spcGVR   = schema.GroupVersionResource{Group: "secrets-store.csi.x-k8s.io", Version: "v1", Resource: "secretproviderclasses"}
	spcAlpha = schema.GroupVersionResource{Group: "secrets-store.csi.x-k8s.io", Version: "v1alpha1", Resource: "secretproviderclasses"}
	podGVR   = schema.GroupVersionResource{Group: "secrets-store.csi.x-k8s.io", Version: "v1", Resource: "secretproviderclasspodstatuses"}
)

// upstreamSPC is the Azure example of the Secrets Store CSI Driver's docs.
const upstreamSPC = `
apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClass
metadata:
  name: azure-kvname
spec:
  provider: azure
  parameters:
    usePodIdentity: "false"
    useVMManagedIdentity: "false"
    userAssignedIdentityID: ""
    keyvaultName: "kvname"
    cloudName: ""
    objects: |
      array:
        - |
          objectName: secret1
          objectType: secret
          objectVersion: ""
        - |
          objectName: key1
          objectType: key
          objectVersion: ""
    tenantId: "tid"
  secretObjects:
  - secretName: foosecret
    type: Opaque
    labels:
      environment: "test"
    data:
    - objectName: secret1
      key: username
`

func decode(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

// deleteAtEnd deletes an object when t ends, so the test runs again in the
// same cluster: go test -count=N shares one API server across runs, and a
// second create of a fixed name is AlreadyExists.
func deleteAtEnd(t *testing.T, name string, del func(context.Context, string, metav1.DeleteOptions) error) {
	t.Cleanup(func() {
		if err := del(context.Background(), name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete %s: %v", name, err)
		}
	})
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func TestSecretProviderClassRoundTrip(t *testing.T) {
	shared.ApplyCRDs(t)
	shared.ApplyCRDs(t) // applying again updates in place
	want := decode(t, upstreamSPC)
	_, err := shared.Dynamic.Resource(spcGVR).Namespace("default").Create(ctx(t), want, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the upstream example: %v", err)
	}
	deleteAtEnd(t, want.GetName(), func(c context.Context, n string, o metav1.DeleteOptions) error {
		return shared.Dynamic.Resource(spcGVR).Namespace("default").Delete(c, n, o)
	})
	for _, gvr := range []schema.GroupVersionResource{spcGVR, spcAlpha} {
		got, err := shared.Dynamic.Resource(gvr).Namespace("default").Get(ctx(t), "azure-kvname", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("reading it back as %s: %v", gvr.Version, err)
		}
		if diff := cmp.Diff(want.Object["spec"], got.Object["spec"]); diff != "" {
			t.Errorf("%s spec (-want +got):\n%s", gvr.Version, diff)
		}
	}
}

func TestSchemaRejectsWrongTypes(t *testing.T) {
	shared.ApplyCRDs(t)
	tests := []struct {
		name string
		doc  string
	}{
		{"parameter not a string", `
apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClass
metadata: {name: bad-param}
spec: {provider: azure, parameters: {keyvaultName: {nested: true}}}`},
		{"secretObjects not a list", `
apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClass
metadata: {name: bad-objects}
spec: {provider: azure, secretObjects: {secretName: x}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := shared.Dynamic.Resource(spcGVR).Namespace("default").Create(ctx(t), decode(t, tt.doc), metav1.CreateOptions{})
			if !apierrors.IsInvalid(err) {
				t.Errorf("Create = %v, want Invalid", err)
			}
		})
	}
}

func TestPodStatusRoundTrip(t *testing.T) {
	shared.ApplyCRDs(t)
	want := decode(t, `
apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClassPodStatus
metadata:
  name: web-0-default-azure-kvname
  labels: {internal.secrets-store.csi.k8s.io/node-name: node-1}
status:
  podName: web-0
  secretProviderClassName: azure-kvname
  mounted: true
  targetPath: /var/lib/kubelet/pods/uid/volumes/kubernetes.io~csi/secrets/mount
  objects:
  - {id: secret/secret1, version: abc}
`)
	_, err := shared.Dynamic.Resource(podGVR).Namespace("default").Create(ctx(t), want, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deleteAtEnd(t, want.GetName(), func(c context.Context, n string, o metav1.DeleteOptions) error {
		return shared.Dynamic.Resource(podGVR).Namespace("default").Delete(c, n, o)
	})
	got, err := shared.Dynamic.Resource(podGVR).Namespace("default").Get(ctx(t), want.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.Object["status"], got.Object["status"]); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
}

func TestKubeconfigForSubprocesses(t *testing.T) {
	cfg, err := clientcmd.BuildConfigFromFlags("", shared.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := client.CoreV1().Namespaces().Get(ctx(t), "default", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading a namespace through the kubeconfig: %v", err)
	}
	if ns.Name != "default" {
		t.Errorf("namespace = %q", ns.Name)
	}
}

// TestRBACIsEnforced checks that service-account tokens are signed and
// verified and that RBAC authorizes: a token without bindings is refused.
func TestRBACIsEnforced(t *testing.T) {
	c := ctx(t)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "nobody"}}
	if _, err := shared.Client.CoreV1().ServiceAccounts("default").Create(c, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deleteAtEnd(t, sa.Name, shared.Client.CoreV1().ServiceAccounts("default").Delete)
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: []string{"https://kubernetes.default.svc.cluster.local"}}}
	tok, err := shared.Client.CoreV1().ServiceAccounts("default").CreateToken(c, "nobody", req, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest: %v", err)
	}
	cfg := rest.AnonymousClientConfig(shared.Config)
	cfg.BearerToken = tok.Status.Token
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.CoreV1().Secrets("default").List(c, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("listing secrets as an unbound service account = %v, want Forbidden", err)
	}
}

func TestRestartKeepsData(t *testing.T) {
	defer goleak.VerifyNone(t, append(transportGoroutines, goleak.IgnoreCurrent())...)
	began := time.Now()
	c := Start(t)
	t.Logf("Start: %v", time.Since(began))
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "survivor"}, Data: map[string]string{"k": "v"}}
	if _, err := c.Client.CoreV1().ConfigMaps("default").Create(ctx(t), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	began = time.Now()
	c.StopAPIServer()
	t.Logf("StopAPIServer: %v", time.Since(began))
	short, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := c.Client.CoreV1().ConfigMaps("default").Get(short, "survivor", metav1.GetOptions{}); err == nil {
		t.Fatal("Get succeeded while the API server was stopped")
	}
	began = time.Now()
	c.Restart(t)
	t.Logf("Restart: %v", time.Since(began))
	got, err := c.Client.CoreV1().ConfigMaps("default").Get(ctx(t), "survivor", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("Get after Restart: %v", err)
	}
	if diff := cmp.Diff(cm.Data, got.Data); diff != "" {
		t.Errorf("data (-want +got):\n%s", diff)
	}

	c.Stop() // etcd too; Restart brings both back
	c.Restart(t)
	if _, err := c.Client.CoreV1().ConfigMaps("default").Get(ctx(t), "survivor", metav1.GetOptions{}); err != nil {
		t.Fatalf("Get after Stop and Restart: %v", err)
	}
	c.Stop()
	for _, p := range []*process{c.apiserver, c.etcd} {
		if !p.exited() {
			t.Errorf("%s still running after Stop", p.name)
		}
	}
}

func TestMissingBinariesFail(t *testing.T) {
	t.Setenv(EnvKubeAPIServer, "")
	_, err := start(t.TempDir())
	if !errors.Is(err, ErrNoBinaries) {
		t.Fatalf("start = %v, want ErrNoBinaries", err)
	}
	if !strings.Contains(err.Error(), "make tools") {
		t.Errorf("error %q does not say how to fix it", err)
	}
}

func TestBrokenBinaryReportsLog(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "etcd")
	script := "#!/bin/sh\necho etcd refuses to start >&2\nexit 3\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvEtcd, bin)
	_, err := start(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "etcd refuses to start") {
		t.Fatalf("start = %v, want the process's output in the error", err)
	}
}
