package secretsync

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/secretfs/secretfs/vault"
)

func TestMerged(t *testing.T) {
	podA := metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: "a", UID: "uid-a"}
	podB := metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: "b", UID: "uid-b"}
	secret := func(data string, labels map[string]string, owners ...metav1.OwnerReference) *corev1.Secret {
		return &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "s", Labels: labels, OwnerReferences: owners},
			Data:       map[string][]byte{"k": []byte(data)},
		}
	}
	managed := map[string]string{ManagedLabel: "true"}
	for _, tc := range []struct {
		name      string
		cur, want *corev1.Secret
		out       outcome
		owners    []metav1.OwnerReference
		labels    map[string]string
	}{
		{"same", secret("v1", managed, podA), secret("v1", managed, podA), unchanged, []metav1.OwnerReference{podA}, managed},
		{"second pod adopts", secret("v1", managed, podA), secret("v1", managed, podB), adopted, []metav1.OwnerReference{podA, podB}, managed},
		{"rotation", secret("v1", managed, podA), secret("v2", managed, podA), updated, []metav1.OwnerReference{podA}, managed},
		{"rotation and adoption", secret("v1", managed, podA), secret("v2", managed, podB), updated, []metav1.OwnerReference{podA, podB}, managed},
		{"user label kept, class label added", secret("v1", map[string]string{ManagedLabel: "true", "user": "x"}, podA),
			secret("v1", map[string]string{ManagedLabel: "true", "env": "prod"}, podA), adopted, []metav1.OwnerReference{podA},
			map[string]string{ManagedLabel: "true", "user": "x", "env": "prod"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, out := merged(tc.cur, tc.want)
			if out != tc.out {
				t.Errorf("outcome = %v, want %v", out, tc.out)
			}
			if diff := cmp.Diff(tc.owners, got.OwnerReferences); diff != "" {
				t.Errorf("owners (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.labels, got.Labels); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want.Data, got.Data); diff != "" {
				t.Errorf("data (-want +got):\n%s", diff)
			}
		})
	}
}

func TestObjectIDAndStatusName(t *testing.T) {
	for _, tc := range []struct {
		file vault.File
		want string
	}{
		{vault.File{Path: "db", Object: vault.Object{Name: "db-password", Type: vault.TypeSecret}, History: -1}, "secret/db-password"},
		{vault.File{Path: "web.crt", Object: vault.Object{Name: "web", Type: vault.TypeCert}, History: -1}, "cert/web"},
		{vault.File{Path: "api/1", Object: vault.Object{Name: "api", Type: vault.TypeKey}, History: 1}, "key/api/1"},
	} {
		if got := ObjectID(tc.file); got != tc.want {
			t.Errorf("ObjectID(%s) = %q, want %q", tc.file.Path, got, tc.want)
		}
	}
	if got, want := StatusName("web-0", "team-a", "app"), "web-0-team-a-app"; got != want {
		t.Errorf("StatusName = %q, want %q", got, want)
	}
}
