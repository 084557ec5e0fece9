package kubetest

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/util/yaml"

	"github.com/secretfs/secretfs/deploy/crds"
)

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// ApplyCRDs creates or updates the CRDs of deploy/crds and waits until each
// is Established and its versions can be listed.
func (c *Cluster) ApplyCRDs(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.applyCRDs(ctx, crds.FS); err != nil {
		t.Fatalf("kubetest: applying CRDs: %v", err)
	}
}

func (c *Cluster) applyCRDs(ctx context.Context, fsys fs.FS) error {
	objs, err := readManifests(fsys)
	if err != nil {
		return err
	}
	for _, obj := range objs {
		if err := c.apply(ctx, obj); err != nil {
			return err
		}
	}
	for _, obj := range objs {
		if err := c.waitServed(ctx, obj); err != nil {
			return err
		}
	}
	return nil
}

// readManifests decodes every YAML document of every *.yaml file in fsys.
func readManifests(fsys fs.FS) ([]*unstructured.Unstructured, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	for _, name := range names {
		f, err := fsys.Open(name)
		if err != nil {
			return nil, err
		}
		docs, err := decodeAll(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		objs = append(objs, docs...)
	}
	return objs, nil
}

func decodeAll(r io.Reader) ([]*unstructured.Unstructured, error) {
	dec := yaml.NewYAMLOrJSONDecoder(r, 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			return objs, nil
		} else if err != nil {
			return nil, err
		}
		if len(m) > 0 {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
}

// apply creates obj, or replaces the spec of an existing one of that name.
func (c *Cluster) apply(ctx context.Context, obj *unstructured.Unstructured) error {
	crdsAPI := c.Dynamic.Resource(crdGVR)
	_, err := crdsAPI.Create(ctx, obj, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		if err != nil {
			return fmt.Errorf("creating %s: %w", obj.GetName(), err)
		}
		return nil
	}
	current, err := crdsAPI.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading %s: %w", obj.GetName(), err)
	}
	obj.SetResourceVersion(current.GetResourceVersion())
	if _, err := crdsAPI.Update(ctx, obj, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating %s: %w", obj.GetName(), err)
	}
	return nil
}

// waitServed waits until the CRD is Established and a List of each served
// version succeeds (discovery may lag Established by a moment).
func (c *Cluster) waitServed(ctx context.Context, crd *unstructured.Unstructured) error {
	return wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		got, err := c.Dynamic.Resource(crdGVR).Get(ctx, crd.GetName(), metav1.GetOptions{})
		if err != nil || !established(got) {
			return false, nil
		}
		for _, gvr := range servedResources(got) {
			if _, err := c.quiet.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
				return false, nil
			}
		}
		return true, nil
	})
}

func established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

func servedResources(crd *unstructured.Unstructured) []schema.GroupVersionResource {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	var gvrs []schema.GroupVersionResource
	for _, v := range versions {
		m, _ := v.(map[string]any)
		if name, _ := m["name"].(string); m["served"] == true {
			gvrs = append(gvrs, schema.GroupVersionResource{Group: group, Version: name, Resource: plural})
		}
	}
	return gvrs
}
