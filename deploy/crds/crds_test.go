package crds

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

// crd holds the fields of a CustomResourceDefinition that make it
// compatible with the upstream driver's.
type crd struct {
	Metadata struct{ Name string }
	Spec     struct {
		Group string
		Scope string
		Names struct{ Kind, Plural string }
		// Versions keeps only what decides which API versions are served
		// and stored.
		Versions []version
	}
}

type version struct {
	Name                        string
	Served, Storage, Deprecated bool
}

func TestCRDsServeV1AndStoreIt(t *testing.T) {
	want := map[string][]version{
		"secretproviderclasses.secrets-store.csi.x-k8s.io": {
			{Name: "v1", Served: true, Storage: true},
			{Name: "v1alpha1", Served: true, Deprecated: true},
		},
		"secretproviderclasspodstatuses.secrets-store.csi.x-k8s.io": {
			{Name: "v1", Served: true, Storage: true},
			{Name: "v1alpha1", Served: true, Deprecated: true},
		},
	}
	got := map[string][]version{}
	names, err := fs.Glob(FS, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		b, err := fs.ReadFile(FS, name)
		if err != nil {
			t.Fatal(err)
		}
		var c crd
		if err := yaml.Unmarshal(stripComments(b), &c); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c.Spec.Group != "secrets-store.csi.x-k8s.io" || c.Spec.Scope != "Namespaced" {
			t.Errorf("%s: group %q scope %q", name, c.Spec.Group, c.Spec.Scope)
		}
		if want := c.Spec.Group + "_" + c.Spec.Names.Plural + ".yaml"; name != want {
			t.Errorf("file %s holds %s, want it named %s", name, c.Metadata.Name, want)
		}
		got[c.Metadata.Name] = c.Spec.Versions
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CRD versions (-want +got):\n%s", diff)
	}
}

// stripComments drops the leading comment block and document marker, so the
// file decodes as one document.
func stripComments(b []byte) []byte {
	var keep []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "#") || line == "---" {
			continue
		}
		keep = append(keep, line)
	}
	return []byte(strings.Join(keep, "\n"))
}
