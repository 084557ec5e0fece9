package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/secretfs/secretfs/kube/kubetest"
)

// spcResource is the SecretProviderClass resource.
var spcResource = schema.GroupVersionResource{Group: "secrets-store.csi.x-k8s.io", Version: "v1", Resource: "secretproviderclasses"}

// fieldManager names this test's server-side applies.
const fieldManager = "secretfs-deploy-test"

// applier sends objects to a real API server with server-side apply, resolving kinds to resources
// through discovery (so CRDs installed during the test become known after reset).
type applier struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

func newApplier(t *testing.T, c *kubetest.Cluster) *applier {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(c.Config)
	if err != nil {
		t.Fatalf("discovery client: %v", err)
	}
	return &applier{dyn: c.Dynamic, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}
}

// apply server-side-applies one JSON object, as a dry run (nothing stored) when dryRun is set, and
// returns what the server answered.
func (a *applier) apply(ctx context.Context, doc []byte, dryRun bool) (*unstructured.Unstructured, error) {
	var u unstructured.Unstructured
	if err := u.UnmarshalJSON(doc); err != nil {
		return nil, fmt.Errorf("decoding object: %w", err)
	}
	gvk := u.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("%s %s: resolving the resource: %w", gvk.Kind, u.GetName(), err)
	}
	opts := metav1.ApplyOptions{FieldManager: fieldManager}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	var res dynamic.ResourceInterface = a.dyn.Resource(m.Resource)
	if m.Scope.Name() == "namespace" {
		res = a.dyn.Resource(m.Resource).Namespace(u.GetNamespace())
	}
	got, err := res.Apply(ctx, u.GetName(), &u, opts)
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", gvk.Kind, u.GetNamespace(), u.GetName(), err)
	}
	return got, nil
}

// applyAll applies every document, reporting each rejection and each field the API server dropped
// (it silently drops fields of disabled features and of older API versions).
func (a *applier) applyAll(t *testing.T, docs [][]byte, dryRun bool) {
	t.Helper()
	for _, doc := range docs {
		got, err := a.apply(t.Context(), doc, dryRun)
		if err != nil {
			t.Errorf("API server rejected %v", err)
			continue
		}
		var sent map[string]any
		if err := json.Unmarshal(doc, &sent); err != nil {
			t.Fatal(err)
		}
		for _, d := range dropped(sent, got.Object, "") {
			t.Errorf("%s %s: API server did not keep %s", got.GetKind(), got.GetName(), d)
		}
	}
}

// dropped lists the paths of sent that are missing from got or hold another value. Fields got adds
// (defaults, status, metadata) are fine.
func dropped(sent, got any, path string) []string {
	switch s := sent.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{path}
		}
		var out []string
		for k, v := range s {
			out = append(out, dropped(v, g[k], path+"."+k)...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(s) {
			return []string{path}
		}
		var out []string
		for i := range s {
			out = append(out, dropped(s[i], g[i], fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	default:
		if fmt.Sprint(sent) != fmt.Sprint(got) {
			return []string{fmt.Sprintf("%s (sent %v, got %v)", path, sent, got)}
		}
		return nil
	}
}

// waitForKind waits until discovery serves kind (a CRD just installed becomes established).
func (a *applier) waitForKind(t *testing.T, group, version, kind string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		a.mapper.Reset()
		_, err := a.mapper.RESTMapping(schema.GroupKind{Group: group, Kind: kind}, version)
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("%s.%s/%s never became available: %v", kind, group, version, err)
	}
}

// createNamespace creates a namespace for real, so namespaced dry runs can be admitted in it.
func createNamespace(t *testing.T, c *kubetest.Cluster, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.Client.CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
}

// readDocs reads a YAML file of one or more documents as JSON documents.
func readDocs(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return splitDocs(t, b)
}

// TestAPIServer sends the chart to a real kube-apiserver, in the order a cluster meets it:
//   - on a fresh cluster, every rendered object (the shipped manifests, default values, and the
//     non-default render) goes through a server-side-apply dry run and must be admitted;
//   - the chart's CRDs are installed for real, and the upstream-style SecretProviderClass of
//     deploy/examples is stored and must read back unchanged; the example pod must be admitted;
//   - after an "upstream install" rewrites the CRDs (kubetest.ApplyCRDs, from deploy/crds), the
//     chart's CRDs must still apply without conflict beside it.
func TestAPIServer(t *testing.T) {
	nonDefault := renderCases[1]
	r := renderCase(t, nonDefault.values.namespace, nonDefault.set)
	manifests := readDocs(t, "manifests/secretfs.yaml")
	c := kubetest.Start(t)
	a := newApplier(t, c)
	createNamespace(t, c, nonDefault.values.namespace)

	t.Run("dry run on a fresh cluster", func(t *testing.T) {
		a.applyAll(t, manifests, true)
		a.applyAll(t, r.docs, true)
	})
	t.Run("example stored unchanged", func(t *testing.T) {
		a.applyAll(t, readDocs(t, chartDir+"/crds/secrets-store.csi.x-k8s.io_secretproviderclasses.yaml"), false)
		a.applyAll(t, readDocs(t, chartDir+"/crds/secrets-store.csi.x-k8s.io_secretproviderclasspodstatuses.yaml"), false)
		a.waitForKind(t, "secrets-store.csi.x-k8s.io", "v1", "SecretProviderClass")
		createNamespace(t, c, "app")
		checkExampleStored(t, c, a, "app")
	})
	t.Run("dry run beside upstream CRDs", func(t *testing.T) {
		c.ApplyCRDs(t)
		a.applyAll(t, manifests, true)
	})
}

// checkExampleStored stores examples/secretproviderclass.yaml in ns, reads it back and compares
// the spec; then dry-runs examples/pod.yaml.
func checkExampleStored(t *testing.T, c *kubetest.Cluster, a *applier, ns string) {
	t.Helper()
	for _, doc := range readDocs(t, "examples/secretproviderclass.yaml") {
		want := inNamespace(t, doc, ns)
		if _, err := a.apply(t.Context(), want, false); err != nil {
			t.Fatalf("storing the example: %v", err)
		}
		var u unstructured.Unstructured
		if err := u.UnmarshalJSON(want); err != nil {
			t.Fatal(err)
		}
		got, err := c.Dynamic.Resource(spcResource).Namespace(ns).Get(t.Context(), u.GetName(), metav1.GetOptions{})
		if err != nil {
			t.Fatalf("reading the example back: %v", err)
		}
		if diff := cmp.Diff(u.Object["spec"], got.Object["spec"]); diff != "" {
			t.Errorf("SecretProviderClass spec changed in the API server (-applied +stored):\n%s", diff)
		}
	}
	for _, doc := range readDocs(t, "examples/pod.yaml") {
		if _, err := a.apply(t.Context(), inNamespace(t, doc, ns), true); err != nil {
			t.Errorf("example pod rejected: %v", err)
		}
	}
}

// inNamespace returns a JSON object with its namespace set.
func inNamespace(t *testing.T, doc []byte, ns string) []byte {
	t.Helper()
	var u unstructured.Unstructured
	if err := u.UnmarshalJSON(doc); err != nil {
		t.Fatal(err)
	}
	u.SetNamespace(ns)
	b, err := u.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDropped(t *testing.T) {
	sent := map[string]any{"spec": map[string]any{"a": "x", "list": []any{map[string]any{"b": 1.0}}}}
	for _, tc := range []struct {
		name string
		got  map[string]any
		want []string
	}{
		{"kept, with server additions", map[string]any{"spec": map[string]any{"a": "x", "d": true, "list": []any{map[string]any{"b": 1.0, "c": 2.0}}}, "status": map[string]any{}}, nil},
		{"field dropped", map[string]any{"spec": map[string]any{"list": []any{map[string]any{"b": 1.0}}}}, []string{".spec.a (sent x, got <nil>)"}},
		{"value changed in a list", map[string]any{"spec": map[string]any{"a": "x", "list": []any{map[string]any{"b": 3.0}}}}, []string{".spec.list[0].b (sent 1, got 3)"}},
		{"list shortened", map[string]any{"spec": map[string]any{"a": "x", "list": []any{}}}, []string{".spec.list"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, dropped(sent, tc.got, "")); diff != "" {
				t.Errorf("dropped (-want +got):\n%s", diff)
			}
		})
	}
}
