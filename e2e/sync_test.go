package e2e

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/secretfs/secretfs/kube/secretsync"
	"github.com/secretfs/secretfs/kube/secretsync/gctest"
	"github.com/secretfs/secretfs/vault/emulator"
)

var spcpsResource = schema.GroupVersionResource{Group: "secrets-store.csi.x-k8s.io", Version: "v1", Resource: "secretproviderclasspodstatuses"}

// syncWait bounds each eventually: generous, CI shares two cores.
const syncWait = 60 * time.Second

// TestSecretSync drives `secretfs node --sync-secrets` as kubelet does,
// against a real API server with the garbage collector running, one
// scenario per subtest. The API server outage comes last.
func TestSecretSync(t *testing.T) {
	h := newHarness(t, ttl, "--sync-secrets")
	gctest.Start(t, h.cluster)
	h.kv.AddServicePrincipal(appClient, appSecret)
	h.kv.Grant(appClient, "kv-sync", emulator.Read)
	h.kv.SetSecret("kv-sync", "db-password", "sync-pw-1", "")
	if _, err := h.kv.CreateSelfSignedCertificate("kv-sync", "web", "CN=web.example", "application/x-pkcs12"); err != nil {
		t.Fatal(err)
	}
	creds := map[string]string{"clientid": appClient, "clientsecret": appSecret}
	params := h.azureParams("kv-sync", objects(
		"objectName: db-password\nobjectType: secret",
		"objectName: web\nobjectType: secret\nobjectAlias: web.pem",
		"objectName: web\nobjectType: secret\nobjectFormat: pfx\nobjectEncoding: base64\nobjectAlias: web.pfx",
	))
	secretObjects := []any{
		map[string]any{"secretName": "db", "type": "Opaque", "labels": map[string]any{"app": "web"},
			"data": []any{map[string]any{"objectName": "db-password", "key": "password"}}},
		map[string]any{"secretName": "web-tls", "type": "kubernetes.io/tls", "data": []any{
			map[string]any{"objectName": "web.pem", "key": "tls.crt"}, map[string]any{"objectName": "web.pem", "key": "tls.key"}}},
		map[string]any{"secretName": "web-tls-pfx", "type": "kubernetes.io/tls", "data": []any{
			map[string]any{"objectName": "web.pfx", "key": "tls.crt"}, map[string]any{"objectName": "web.pfx", "key": "tls.key"}}},
	}

	t.Run("create, rotate within the TTL, status, events", func(t *testing.T) {
		h.createSyncClass(t, "sync-a", "app", params, secretObjects)
		p := h.createPod(t, "sync-a", "web-0")
		req := h.publishRequest(p, "secrets", "app", creds)
		h.mustPublish(t, req)

		db := h.waitSecret(t, "sync-a", "db")
		if db.Type != corev1.SecretTypeOpaque || string(db.Data["password"]) != "sync-pw-1" ||
			db.Labels["app"] != "web" || db.Labels[secretsync.ManagedLabel] != "true" {
			t.Errorf("Secret db: type %s, keys %v, labels %v", db.Type, keys(db), db.Labels)
		}
		for _, name := range []string{"web-tls", "web-tls-pfx"} {
			s := h.waitSecret(t, "sync-a", name)
			if s.Type != corev1.SecretTypeTLS || !slices.Equal(keys(s), []string{"tls.crt", "tls.key"}) {
				t.Errorf("Secret %s: type %s, keys %v", name, s.Type, keys(s))
			}
			if _, err := tls.X509KeyPair(s.Data["tls.crt"], s.Data["tls.key"]); err != nil {
				t.Errorf("Secret %s: tls.crt and tls.key are no key pair: %v", name, err)
			}
		}
		statusName := secretsync.StatusName(p.name, p.namespace, "app")
		st := h.waitStatus(t, "sync-a", statusName, func(*unstructured.Unstructured) bool { return true })
		if got, _, _ := unstructured.NestedString(st.Object, "status", "targetPath"); got != req.TargetPath {
			t.Errorf("status targetPath = %q, want %q", got, req.TargetPath)
		}

		v2 := h.kv.SetSecret("kv-sync", "db-password", "sync-pw-2", "")
		start := time.Now()
		eventually(t, ttl+5*time.Second, "mounted file rotated", func() bool {
			return readFile(t, filepath.Join(req.TargetPath, "db-password")) == "sync-pw-2"
		})
		eventually(t, ttl+5*time.Second, "Secret rotated", func() bool {
			return string(h.secret(t, "sync-a", "db").Data["password"]) == "sync-pw-2"
		})
		t.Logf("rotation reached the Secret %v after the new version (TTL %v)", time.Since(start).Round(time.Millisecond), ttl)
		h.waitStatus(t, "sync-a", statusName, func(u *unstructured.Unstructured) bool {
			objs, _, _ := unstructured.NestedSlice(u.Object, "status", "objects")
			for _, o := range objs {
				m, _ := o.(map[string]any)
				if m["id"] == "secret/db-password" && m["version"] == v2 {
					return true
				}
			}
			return false
		})
		for _, reason := range []string{secretsync.ReasonSecretCreated, secretsync.ReasonSecretRotationComplete, secretsync.ReasonMountRotationComplete} {
			eventually(t, syncWait, reason+" event", func() bool { return h.hasEvent(t, p, reason) })
		}
		if got := h.metric(t, "sync_k8s_secret_total", ""); got < 4 {
			t.Errorf("sync_k8s_secret_total = %v, want ≥ 4 (three creates, one rotation)", got)
		}
		if got := h.metric(t, "rotation_reconcile_total", `rotated="true"`); got < 1 {
			t.Errorf("rotation_reconcile_total{rotated=true} = %v, want ≥ 1", got)
		}
	})

	t.Run("two pods, one deleted keeps the Secret, both deleted removes it", func(t *testing.T) {
		h.createSyncClass(t, "sync-b", "app", params, secretObjects[:1])
		a, b := h.createPod(t, "sync-b", "web-a"), h.createPod(t, "sync-b", "web-b")
		ra, rb := h.publishRequest(a, "secrets", "app", creds), h.publishRequest(b, "secrets", "app", creds)
		h.mustPublish(t, ra)
		h.mustPublish(t, rb)
		eventually(t, syncWait, "both pods own the Secret", func() bool {
			return slices.Equal(owners(h.secret(t, "sync-b", "db")), []string{"web-a", "web-b"})
		})
		h.deletePod(t, a)
		h.unpublish(t, ra)
		eventually(t, syncWait, "web-a no longer an owner", func() bool {
			s := h.secret(t, "sync-b", "db")
			if s == nil {
				t.Fatal("Secret deleted while web-b still mounts it")
			}
			return slices.Equal(owners(s), []string{"web-b"})
		})
		h.deletePod(t, b)
		h.unpublish(t, rb)
		eventually(t, syncWait, "Secret deleted with the last pod", func() bool { return h.secret(t, "sync-b", "db") == nil })
	})

	t.Run("scale to zero removes the Secret", func(t *testing.T) {
		h.createSyncClass(t, "sync-c", "app", params, secretObjects[:1])
		var pods []pod
		for _, name := range []string{"web-0", "web-1", "web-2"} {
			p := h.createPod(t, "sync-c", name)
			h.mustPublish(t, h.publishRequest(p, "secrets", "app", creds))
			pods = append(pods, p)
		}
		eventually(t, syncWait, "three owners", func() bool { return len(owners(h.secret(t, "sync-c", "db"))) == 3 })
		for _, p := range pods { // the Deployment scales to zero: pod objects go, kubelet unmounts later
			h.deletePod(t, p)
		}
		eventually(t, syncWait, "Secret deleted", func() bool { return h.secret(t, "sync-c", "db") == nil })
	})

	t.Run("an unmanaged Secret of the same name is left untouched and reported", func(t *testing.T) {
		h.createSyncClass(t, "sync-d", "app", params, secretObjects[:1])
		mine := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "sync-d"}, StringData: map[string]string{"password": "hand-made"}}
		before, err := h.cluster.Client.CoreV1().Secrets("sync-d").Create(context.Background(), mine, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p := h.createPod(t, "sync-d", "web-0")
		h.mustPublish(t, h.publishRequest(p, "secrets", "app", creds))
		eventually(t, syncWait, "FailedToCreateSecret event", func() bool { return h.hasEvent(t, p, secretsync.ReasonFailedToCreateSecret) })
		if after := h.secret(t, "sync-d", "db"); after.ResourceVersion != before.ResourceVersion {
			t.Errorf("unmanaged Secret was changed: %v", after)
		}
		if got := h.metric(t, "sync_k8s_secret_error_total", `error_type="unmanaged"`); got < 1 {
			t.Errorf("sync_k8s_secret_error_total{error_type=unmanaged} = %v", got)
		}
	})

	t.Run("API server briefly unavailable: sync catches up", func(t *testing.T) {
		h.createSyncClass(t, "sync-e", "app", params, secretObjects[:1])
		a, b := h.createPod(t, "sync-e", "web-a"), h.createPod(t, "sync-e", "web-b")
		ra := h.publishRequest(a, "secrets", "app", creds)
		h.mustPublish(t, ra)
		eventually(t, syncWait, "Secret created", func() bool { return h.secret(t, "sync-e", "db") != nil })

		h.cluster.StopAPIServer()
		h.kv.SetSecret("kv-sync", "db-password", "sync-pw-3-outage", "")
		h.mustPublish(t, h.publishRequest(b, "secrets", "app", creds)) // the class comes from the informer's cache
		eventually(t, syncWait, "mount rotated during the outage", func() bool {
			return readFile(t, filepath.Join(ra.TargetPath, "db-password")) == "sync-pw-3-outage"
		})
		h.cluster.Restart(t)
		eventually(t, syncWait, "Secret caught up: new value, both owners", func() bool {
			s := h.secret(t, "sync-e", "db")
			return s != nil && string(s.Data["password"]) == "sync-pw-3-outage" && slices.Equal(owners(s), []string{"web-a", "web-b"})
		})
		h.waitStatus(t, "sync-e", secretsync.StatusName("web-b", "sync-e", "app"), func(*unstructured.Unstructured) bool { return true })
	})

	t.Run("logs hold no secret", func(t *testing.T) {
		log, err := os.ReadFile(h.logFile)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{appSecret, "sync-pw-1", "sync-pw-2", "sync-pw-3-outage", "PRIVATE KEY"} {
			if strings.Contains(string(log), secret) {
				t.Errorf("node log contains %q", secret)
			}
		}
	})
}

// createSyncClass creates a SecretProviderClass with secretObjects.
func (h *harness) createSyncClass(t *testing.T, namespace, name string, params map[string]string, secretObjects []any) {
	t.Helper()
	p := map[string]any{}
	for k, v := range params {
		p[k] = v
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "secrets-store.csi.x-k8s.io/v1", "kind": "SecretProviderClass",
		"metadata": map[string]any{"name": name, "namespace": namespace},
		"spec":     map[string]any{"provider": "azure", "parameters": p, "secretObjects": secretObjects},
	}}
	h.ensureNamespace(t, namespace)
	if _, err := h.cluster.Dynamic.Resource(spcResource).Namespace(namespace).Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating SecretProviderClass %s/%s: %v", namespace, name, err)
	}
}

// createPod creates the Pod object kubelet would be running (it stays
// Pending: no kubelet), so the volume's pod UID is real.
func (h *harness) createPod(t *testing.T, namespace, name string) pod {
	t.Helper()
	obj := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}},
	}
	created, err := h.cluster.Client.CoreV1().Pods(namespace).Create(context.Background(), obj, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating pod %s/%s: %v", namespace, name, err)
	}
	return pod{namespace: namespace, name: name, uid: string(created.UID), serviceAccount: "default"}
}

func (h *harness) deletePod(t *testing.T, p pod) {
	t.Helper()
	zero := int64(0)
	err := h.cluster.Client.CoreV1().Pods(p.namespace).Delete(context.Background(), p.name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	if err != nil {
		t.Fatalf("deleting pod %s: %v", p.name, err)
	}
}

// secret returns the Secret or nil.
func (h *harness) secret(t *testing.T, namespace, name string) *corev1.Secret {
	t.Helper()
	s, err := h.cluster.Client.CoreV1().Secrets(namespace).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("reading Secret %s/%s: %v", namespace, name, err)
	}
	return s
}

func (h *harness) waitSecret(t *testing.T, namespace, name string) *corev1.Secret {
	t.Helper()
	var s *corev1.Secret
	eventually(t, syncWait, "Secret "+namespace+"/"+name, func() bool { s = h.secret(t, namespace, name); return s != nil })
	return s
}

// waitStatus waits for a SecretProviderClassPodStatus that satisfies ok.
func (h *harness) waitStatus(t *testing.T, namespace, name string, ok func(*unstructured.Unstructured) bool) *unstructured.Unstructured {
	t.Helper()
	var got *unstructured.Unstructured
	eventually(t, syncWait, "SecretProviderClassPodStatus "+name, func() bool {
		u, err := h.cluster.Dynamic.Resource(spcpsResource).Namespace(namespace).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		got = u
		return ok(u)
	})
	return got
}

func (h *harness) hasEvent(t *testing.T, p pod, reason string) bool {
	t.Helper()
	sel := fields.Set{"involvedObject.name": p.name, "reason": reason}.String()
	list, err := h.cluster.Client.CoreV1().Events(p.namespace).List(context.Background(), metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		t.Fatalf("listing events: %v", err)
	}
	return len(list.Items) > 0
}

func keys(s *corev1.Secret) []string {
	var out []string
	for k := range s.Data {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func owners(s *corev1.Secret) []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, o := range s.OwnerReferences {
		out = append(out, o.Name)
	}
	return out
}
