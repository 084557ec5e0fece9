package kube

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func sampleClass() *SecretProviderClass {
	return &SecretProviderClass{
		ObjectMeta: metav1.ObjectMeta{Name: "spc", Namespace: "ns", Labels: map[string]string{"a": "b"}},
		Spec: SecretProviderClassSpec{
			Provider:   "azure",
			Parameters: map[string]string{"keyvaultName": "kv"},
			SecretObjects: []*SecretObject{{
				SecretName: "s", Type: "Opaque",
				Labels: map[string]string{"l": "1"}, Annotations: map[string]string{"an": "1"},
				Data: []*SecretObjectData{{ObjectName: "o", Key: "k"}},
			}},
		},
		Status: SecretProviderClassStatus{ByPod: []*ByPodStatus{{ID: "p", Namespace: "ns"}}},
	}
}

// TestDeepCopyIndependent checks that changing every reference field of a
// copy leaves the original as it was: informer caches rely on it.
func TestDeepCopyIndependent(t *testing.T) {
	orig := sampleClass()
	cp := orig.DeepCopy()
	if diff := cmp.Diff(orig, cp); diff != "" {
		t.Fatalf("copy differs (-orig +copy):\n%s", diff)
	}
	cp.Labels["a"] = "changed"
	cp.Spec.Parameters["keyvaultName"] = "changed"
	cp.Spec.SecretObjects[0].Labels["l"] = "changed"
	cp.Spec.SecretObjects[0].Annotations["an"] = "changed"
	cp.Spec.SecretObjects[0].Data[0].Key = "changed"
	cp.Status.ByPod[0].ID = "changed"
	if diff := cmp.Diff(sampleClass(), orig); diff != "" {
		t.Errorf("original changed through its copy (-want +got):\n%s", diff)
	}
}

func TestDeepCopyPodStatusIndependent(t *testing.T) {
	mk := func() *SecretProviderClassPodStatus {
		return &SecretProviderClassPodStatus{
			ObjectMeta: metav1.ObjectMeta{Name: "pod-ns-spc"},
			Status: SecretProviderClassPodStatusStatus{
				PodName: "pod", SecretProviderClassName: "spc", Mounted: true, TargetPath: "/t",
				Objects: []SecretProviderClassObject{{ID: "secret/a", Version: "v1"}},
			},
		}
	}
	list := &SecretProviderClassPodStatusList{Items: []SecretProviderClassPodStatus{*mk()}}
	cp := list.DeepCopyObject().(*SecretProviderClassPodStatusList)
	cp.Items[0].Status.Objects[0].Version = "v2"
	if diff := cmp.Diff(mk(), &list.Items[0]); diff != "" {
		t.Errorf("original changed through its copy (-want +got):\n%s", diff)
	}
}

func TestDeepCopyNil(t *testing.T) {
	var c *SecretProviderClass
	if c.DeepCopy() != nil {
		t.Error("DeepCopy of nil class is not nil")
	}
	var l *SecretProviderClassList
	if l.DeepCopy() != nil {
		t.Error("DeepCopy of nil list is not nil")
	}
}
