package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// rendered is a chart render parsed into typed objects. Parsing is strict: a field the Kubernetes
// type does not have (a typo in a template) fails the test.
type rendered struct {
	driver       *storagev1.CSIDriver
	daemonSets   map[string]*appsv1.DaemonSet
	clusterRoles map[string]*rbacv1.ClusterRole
	bindings     []*rbacv1.ClusterRoleBinding
	accounts     []*corev1.ServiceAccount
	// objects lists every object as "Kind namespace/name", sorted.
	objects []string
	// docs holds every object as JSON, for the API server tests.
	docs [][]byte
}

// parseRender parses a helm template stream.
func parseRender(t *testing.T, stream []byte) *rendered {
	t.Helper()
	r := &rendered{daemonSets: map[string]*appsv1.DaemonSet{}, clusterRoles: map[string]*rbacv1.ClusterRole{}}
	for _, doc := range splitDocs(t, stream) {
		var u unstructured.Unstructured
		if err := u.UnmarshalJSON(doc); err != nil {
			t.Fatalf("object without apiVersion/kind: %v\n%s", err, doc)
		}
		r.docs = append(r.docs, doc)
		r.objects = append(r.objects, fmt.Sprintf("%s %s/%s", u.GetKind(), u.GetNamespace(), u.GetName()))
		r.add(t, u.GetKind(), doc)
	}
	sort.Strings(r.objects)
	return r
}

// add decodes one document by kind into its typed field.
func (r *rendered) add(t *testing.T, kind string, doc []byte) {
	t.Helper()
	switch kind {
	case "CSIDriver":
		r.driver = strictDecode[storagev1.CSIDriver](t, doc)
	case "DaemonSet":
		ds := strictDecode[appsv1.DaemonSet](t, doc)
		r.daemonSets[ds.Name] = ds
	case "ClusterRole":
		cr := strictDecode[rbacv1.ClusterRole](t, doc)
		r.clusterRoles[cr.Name] = cr
	case "ClusterRoleBinding":
		r.bindings = append(r.bindings, strictDecode[rbacv1.ClusterRoleBinding](t, doc))
	case "ServiceAccount":
		r.accounts = append(r.accounts, strictDecode[corev1.ServiceAccount](t, doc))
	case "CustomResourceDefinition":
		// Checked against deploy/crds byte for byte (TestChartCRDsAreCopies) and by the API server.
	default:
		t.Errorf("unexpected kind %s in the chart", kind)
	}
}

// strictDecode decodes JSON into a T, rejecting unknown fields.
func strictDecode[T any](t *testing.T, doc []byte) *T {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	v := new(T)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding %T: %v\n%s", v, err, doc)
	}
	return v
}

// grants lists what the chart's ClusterRoles grant the driver's ServiceAccount, one
// "group/resource:verb" per permission (core group written as "core"), sorted.
func (r *rendered) grants(t *testing.T) []string {
	t.Helper()
	if len(r.accounts) != 1 {
		t.Fatalf("want one ServiceAccount, got %d", len(r.accounts))
	}
	sa := r.accounts[0]
	var out []string
	for _, b := range r.bindings {
		if !bindsAccount(b, sa) {
			continue
		}
		cr, ok := r.clusterRoles[b.RoleRef.Name]
		if !ok || b.RoleRef.Kind != "ClusterRole" {
			t.Errorf("binding %s refers to %s %s, which the chart does not define", b.Name, b.RoleRef.Kind, b.RoleRef.Name)
			continue
		}
		out = append(out, ruleGrants(cr.Rules)...)
	}
	sort.Strings(out)
	return out
}

// bindsAccount reports whether b binds the ServiceAccount sa.
func bindsAccount(b *rbacv1.ClusterRoleBinding, sa *corev1.ServiceAccount) bool {
	for _, s := range b.Subjects {
		if s.Kind == "ServiceAccount" && s.Name == sa.Name && s.Namespace == sa.Namespace {
			return true
		}
	}
	return false
}

// ruleGrants expands policy rules into "group/resource:verb" strings.
func ruleGrants(rules []rbacv1.PolicyRule) []string {
	var out []string
	for _, rule := range rules {
		for _, g := range rule.APIGroups {
			if g == "" {
				g = "core"
			}
			for _, res := range rule.Resources {
				for _, v := range rule.Verbs {
					out = append(out, g+"/"+res+":"+v)
				}
			}
		}
		if len(rule.NonResourceURLs) > 0 || len(rule.ResourceNames) > 0 {
			out = append(out, fmt.Sprintf("unexpected rule %+v", rule))
		}
	}
	return out
}

// container returns the container named name of a pod template, or nil.
func container(spec *corev1.PodSpec, name string) *corev1.Container {
	for i := range spec.Containers {
		if spec.Containers[i].Name == name {
			return &spec.Containers[i]
		}
	}
	return nil
}

// containerNames lists a pod template's containers in order.
func containerNames(spec *corev1.PodSpec) []string {
	var names []string
	for _, c := range spec.Containers {
		names = append(names, c.Name)
	}
	return names
}

// hostPaths maps each hostPath volume of a pod template to its host path.
func hostPaths(spec *corev1.PodSpec) map[string]string {
	m := map[string]string{}
	for _, v := range spec.Volumes {
		if v.HostPath != nil {
			m[v.Name] = v.HostPath.Path
		}
	}
	return m
}

// selects reports whether a DaemonSet's selector matches a set of pod labels.
func selects(ds *appsv1.DaemonSet, labels map[string]string) bool {
	sel, err := metav1.LabelSelectorAsMap(ds.Spec.Selector)
	if err != nil {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }
