package kube_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/goleak"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/secretfs/secretfs/kube"
	"github.com/secretfs/secretfs/kube/kubetest"
)

// cluster is one etcd + kube-apiserver with the CRDs, shared by the tests.
var cluster *kubetest.Cluster

func TestMain(m *testing.M) {
	kubetest.Main(m, func(c *kubetest.Cluster) { cluster = c })
}

// getCounter counts GETs of single SecretProviderClasses (not lists or
// watches) that reach the API server.
type getCounter struct {
	rt   http.RoundTripper
	gets *atomic.Int64
}

func (c *getCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && !r.URL.Query().Has("watch") {
		if _, name, ok := strings.Cut(r.URL.Path, "/"+kube.ClassResource+"/"); ok && name != "" {
			c.gets.Add(1)
		}
	}
	return c.rt.RoundTrip(r)
}

func newClass(ns, name, vault string) *kube.SecretProviderClass {
	return &kube.SecretProviderClass{
		TypeMeta:   metav1.TypeMeta{APIVersion: kube.GroupVersion.String(), Kind: "SecretProviderClass"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: kube.SecretProviderClassSpec{
			Provider:   "azure",
			Parameters: map[string]string{"keyvaultName": vault, "tenantID": "t", "objects": "array:\n  - |\n    objectName: a\n    objectType: secret\n"},
			SecretObjects: []*kube.SecretObject{{
				SecretName: "synced", Type: "Opaque",
				Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"note": "x"},
				Data: []*kube.SecretObjectData{{ObjectName: "a", Key: "password"}},
			}},
		},
	}
}

// ignoreServerFields drops what the API server fills in.
var ignoreServerFields = cmpopts.IgnoreFields(metav1.ObjectMeta{}, "UID", "ResourceVersion", "Generation", "CreationTimestamp", "ManagedFields")

func create(t *testing.T, client rest.Interface, spc *kube.SecretProviderClass) *kube.SecretProviderClass {
	t.Helper()
	out := &kube.SecretProviderClass{}
	err := client.Post().Namespace(spc.Namespace).Resource(kube.ClassResource).Body(spc).Do(t.Context()).Into(out)
	if err != nil {
		t.Fatalf("create %s/%s: %v", spc.Namespace, spc.Name, err)
	}
	deleteAtEnd(t, client, kube.ClassResource, spc.Namespace, spc.Name)
	return out
}

// deleteAtEnd deletes an object when t ends (if the test has not), so the
// test runs again in the same cluster: go test -count=N shares one API
// server across runs, and a second create of a fixed name is AlreadyExists.
func deleteAtEnd(t *testing.T, client rest.Interface, resource, ns, name string) {
	t.Cleanup(func() {
		err := client.Delete().Namespace(ns).Resource(resource).Name(name).Do(context.Background()).Error()
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete %s %s/%s: %v", resource, ns, name, err)
		}
	})
}

// eventually polls cond until it holds or a minute passes; watches deliver
// in milliseconds, the minute only bounds a broken test.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after a minute", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClasses runs Classes against a real kube-apiserver with the
// upstream CRDs: a live GET before the cache syncs and on a miss, no GET
// once synced, updates and deletes followed through the watch, and no
// goroutine left after Close.
func TestClasses(t *testing.T) {
	cluster.ApplyCRDs(t) // idempotent: each test states what it needs
	admin, err := kube.NewRESTClient(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	create(t, admin, newClass("default", "early", "kv-early"))

	leaks := goleak.IgnoreCurrent()
	var gets atomic.Int64
	cfg := rest.CopyConfig(cluster.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &getCounter{rt: rt, gets: &gets} })
	classes, err := kube.NewClasses(cfg)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("before Start: live GET", func(t *testing.T) {
		got, err := classes.Get("default", "early")
		if err != nil {
			t.Fatal(err)
		}
		if got.Spec.Parameters["keyvaultName"] != "kv-early" {
			t.Errorf("keyvaultName = %q, want kv-early", got.Spec.Parameters["keyvaultName"])
		}
		if _, err := classes.Get("default", "missing"); !errors.Is(err, kube.ErrNotFound) {
			t.Errorf("Get(missing) = %v, want ErrNotFound", err)
		}
		if n := gets.Load(); n != 2 {
			t.Errorf("API server saw %d GETs before Start, want 2", n)
		}
	})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	classes.Start(ctx)
	if !classes.WaitForSync(ctx) {
		t.Fatal("cache did not sync")
	}

	t.Run("synced: no GET per call", func(t *testing.T) {
		before := gets.Load()
		for range 100 {
			if _, err := classes.Get("default", "early"); err != nil {
				t.Fatal(err)
			}
		}
		if n := gets.Load() - before; n != 0 {
			t.Errorf("100 Gets of a cached class sent %d GETs, want 0", n)
		}
	})

	t.Run("round trip through the API server keeps every field", func(t *testing.T) {
		want := newClass("default", "full", "kv-full")
		want.Labels = map[string]string{"team": "a"}
		create(t, admin, want)
		got, err := classes.Get("default", "full") // just created: cache or live GET
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, ignoreServerFields, cmpopts.IgnoreFields(kube.SecretProviderClass{}, "TypeMeta")); diff != "" {
			t.Errorf("Get (-want +got):\n%s", diff)
		}
	})

	t.Run("copies are the caller's", func(t *testing.T) {
		got, _ := classes.Get("default", "early")
		got.Spec.Parameters["keyvaultName"] = "scribbled"
		again, _ := classes.Get("default", "early")
		if again.Spec.Parameters["keyvaultName"] != "kv-early" {
			t.Error("changing a returned class changed the cache")
		}
	})

	t.Run("update and delete follow the watch", func(t *testing.T) {
		spc := create(t, admin, newClass("default", "moving", "kv-one"))
		spc.Spec.Parameters["keyvaultName"] = "kv-two"
		if err := admin.Put().Namespace("default").Resource(kube.ClassResource).Name("moving").Body(spc).Do(t.Context()).Error(); err != nil {
			t.Fatal(err)
		}
		eventually(t, "update seen", func() bool {
			got, err := classes.Get("default", "moving")
			return err == nil && got.Spec.Parameters["keyvaultName"] == "kv-two"
		})
		if err := admin.Delete().Namespace("default").Resource(kube.ClassResource).Name("moving").Do(t.Context()).Error(); err != nil {
			t.Fatal(err)
		}
		eventually(t, "delete seen", func() bool {
			_, err := classes.Get("default", "moving")
			return errors.Is(err, kube.ErrNotFound)
		})
	})

	if err := classes.Close(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, leaks,
		// net/http keeps idle keep-alive connections to the API server
		// (closed with the client's transport, shared by client-go).
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// TestPodStatusRoundTrip creates a SecretProviderClassPodStatus through
// the API server: a field whose JSON name disagreed with the CRD schema
// would be pruned and the diff would show it.
func TestPodStatusRoundTrip(t *testing.T) {
	cluster.ApplyCRDs(t)
	client, err := kube.NewRESTClient(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	want := &kube.SecretProviderClassPodStatus{
		TypeMeta:   metav1.TypeMeta{APIVersion: kube.GroupVersion.String(), Kind: "SecretProviderClassPodStatus"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-0-default-spc", Labels: map[string]string{"internal.secrets-store.csi.k8s.io/node-name": "node-1"}},
		Status: kube.SecretProviderClassPodStatusStatus{
			PodName: "web-0", SecretProviderClassName: "spc", Mounted: true, TargetPath: "/var/lib/kubelet/pods/x/volumes/y/mount",
			Objects: []kube.SecretProviderClassObject{{ID: "secret/db", Version: "0123"}},
		},
	}
	if err := client.Post().Namespace("default").Resource(kube.PodStatusResource).Body(want).Do(t.Context()).Error(); err != nil {
		t.Fatal(err)
	}
	deleteAtEnd(t, client, kube.PodStatusResource, want.Namespace, want.Name)
	got := &kube.SecretProviderClassPodStatus{}
	if err := client.Get().Namespace("default").Resource(kube.PodStatusResource).Name(want.Name).Do(t.Context()).Into(got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, ignoreServerFields, cmpopts.IgnoreFields(kube.SecretProviderClassPodStatus{}, "TypeMeta")); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}
