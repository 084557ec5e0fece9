package secretsync_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/secretfs/secretfs/csi"
	"github.com/secretfs/secretfs/kube"
	"github.com/secretfs/secretfs/kube/kubetest"
	"github.com/secretfs/secretfs/kube/secretsync"
	"github.com/secretfs/secretfs/kube/secretsync/gctest"
)

// wait is the deadline of eventually: generous, CI shares two cores.
const wait = 60 * time.Second

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSyncCreatesSecretAndStatus(t *testing.T) {
	noLeaks(t)
	e := newEnv(t, shared, time.Minute)
	pwVersion := e.kv.SetSecret(vaultName, "db-password", "pw-1", "")
	tokOld := e.kv.SetSecret(vaultName, "api-token", "token-old", "")
	tokVersion := e.kv.SetSecret(vaultName, "api-token", "token-new", "")
	params := e.params("objectName: db-password\nobjectType: secret",
		"objectName: api-token\nobjectType: secret\nobjectVersionHistory: 2")
	e.class("app", params, &kube.SecretObject{
		SecretName: "app-secrets", Labels: map[string]string{"env": "test"}, Annotations: map[string]string{"team": "a"},
		Data: []*kube.SecretObjectData{
			{ObjectName: "db-password", Key: "password"},
			{ObjectName: "api-token/0", Key: "token"},
			{ObjectName: "api-token/1", Key: "token-previous"},
		},
	})
	n := e.node("node-1")
	pod := e.pod("web-0", n.name)
	r := e.request(pod, "app", params)
	n.mount(t, r)

	var s *corev1.Secret
	eventually(t, wait, "Secret app-secrets created", func() bool { s = e.secret("app-secrets"); return s != nil })
	if s.Type != corev1.SecretTypeOpaque {
		t.Errorf("type = %s, want Opaque", s.Type)
	}
	wantData := map[string]string{"password": "pw-1", "token": "token-new", "token-previous": "token-old"}
	gotData := map[string]string{}
	for k, v := range s.Data {
		gotData[k] = string(v)
	}
	if diff := cmp.Diff(wantData, gotData); diff != "" {
		t.Errorf("data (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"env": "test", secretsync.ManagedLabel: "true"}, s.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"team": "a"}, s.Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	wantOwner := []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "web-0", UID: s.OwnerReferences[0].UID}}
	if diff := cmp.Diff(wantOwner, s.OwnerReferences); diff != "" || string(s.OwnerReferences[0].UID) != pod.UID {
		t.Errorf("owners (-want +got):\n%s (uid %s, pod %s)", diff, s.OwnerReferences[0].UID, pod.UID)
	}

	var st *kube.SecretProviderClassPodStatus
	name := secretsync.StatusName("web-0", e.ns, "app")
	eventually(t, wait, "status created", func() bool { st = e.status(name); return st != nil })
	want := kube.SecretProviderClassPodStatusStatus{
		PodName: "web-0", SecretProviderClassName: "app", Mounted: true, TargetPath: r.TargetPath,
		Objects: []kube.SecretProviderClassObject{
			{ID: "secret/db-password", Version: pwVersion},
			{ID: "secret/api-token/0", Version: tokVersion},
			{ID: "secret/api-token/1", Version: tokOld},
		},
	}
	if diff := cmp.Diff(want, st.Status); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	if st.Labels[secretsync.NodeLabel] != "node-1" || len(st.OwnerReferences) != 1 || string(st.OwnerReferences[0].UID) != pod.UID {
		t.Errorf("status labels %v, owners %v: want node label node-1 and the pod as owner", st.Labels, st.OwnerReferences)
	}
	eventually(t, wait, "SecretCreated event", func() bool { return len(e.events(pod, secretsync.ReasonSecretCreated)) > 0 })
	if got := n.metric(t, "sync_k8s_secret_total", nil); got != 1 {
		t.Errorf("sync_k8s_secret_total = %v, want 1", got)
	}

	n.unmount(t, r)
	eventually(t, wait, "status deleted on unmount", func() bool { return e.status(name) == nil })
	eventually(t, wait, "Secret deleted when its only pod unmounted", func() bool { return e.secret("app-secrets") == nil })
}

func TestRotationUpdatesFileSecretAndStatus(t *testing.T) {
	noLeaks(t)
	const ttl = 500 * time.Millisecond
	e := newEnv(t, shared, ttl)
	e.kv.SetSecret(vaultName, "db-password", "pw-1", "")
	params := e.params("objectName: db-password\nobjectType: secret")
	e.class("app", params, &kube.SecretObject{SecretName: "db", Data: []*kube.SecretObjectData{{ObjectName: "db-password", Key: "password"}}})
	n := e.node("node-1")
	pod := e.pod("web-0", n.name)
	r := e.request(pod, "app", params)
	n.mount(t, r)
	eventually(t, wait, "Secret created", func() bool { return e.secret("db") != nil })

	v2 := e.kv.SetSecret(vaultName, "db-password", "pw-2-rotated", "")
	start := time.Now()
	eventually(t, wait, "mounted file rotated", func() bool {
		return readFile(t, filepath.Join(r.TargetPath, "db-password")) == "pw-2-rotated"
	})
	eventually(t, wait, "Secret rotated", func() bool { return string(e.secret("db").Data["password"]) == "pw-2-rotated" })
	t.Logf("rotation reached the Secret %v after the new version (TTL %v)", time.Since(start).Round(time.Millisecond), ttl)
	name := secretsync.StatusName("web-0", e.ns, "app")
	eventually(t, wait, "status shows the new version", func() bool {
		st := e.status(name)
		return st != nil && len(st.Status.Objects) == 1 && st.Status.Objects[0].Version == v2
	})
	eventually(t, wait, "rotation events", func() bool {
		return len(e.events(pod, secretsync.ReasonSecretRotationComplete)) > 0 && len(e.events(pod, secretsync.ReasonMountRotationComplete)) > 0
	})
	if got := n.metric(t, "rotation_reconcile_total", map[string]string{"rotated": "true"}); got < 1 {
		t.Errorf("rotation_reconcile_total{rotated=true} = %v, want ≥ 1", got)
	}
	if got := n.metric(t, "k8s_secret_duration_sec", nil); got < 2 {
		t.Errorf("k8s_secret_duration_sec count = %v, want ≥ 2 (create and rotation)", got)
	}
}

func TestTLSSecretFromPEMAndPFX(t *testing.T) {
	noLeaks(t)
	e := newEnv(t, shared, time.Minute)
	for _, c := range []struct{ name, contentType string }{{"web-pem", "application/x-pem-file"}, {"web-pfx", "application/x-pkcs12"}} {
		if _, err := e.kv.CreateSelfSignedCertificate(vaultName, c.name, "CN="+c.name+".example", c.contentType); err != nil {
			t.Fatal(err)
		}
	}
	params := e.params(
		"objectName: web-pem\nobjectType: secret",
		"objectName: web-pem\nobjectType: cert\nobjectAlias: web-pem.crt",
		"objectName: web-pfx\nobjectType: secret",
		"objectName: web-pfx\nobjectType: secret\nobjectFormat: pfx\nobjectEncoding: base64\nobjectAlias: web.pfx",
		"objectName: web-pfx\nobjectType: secret\nobjectFormat: pfx\nobjectAlias: web.pfx.b64",
		"objectName: web-pfx\nobjectType: cert\nobjectAlias: web-pfx.crt",
	)
	tlsObject := func(secret, object string) *kube.SecretObject {
		return &kube.SecretObject{SecretName: secret, Type: "kubernetes.io/tls", Data: []*kube.SecretObjectData{
			{ObjectName: object, Key: "tls.crt"}, {ObjectName: object, Key: "tls.key"},
		}}
	}
	e.class("tls", params, tlsObject("from-pem", "web-pem"), tlsObject("from-pfx-pem", "web-pfx"),
		tlsObject("from-pfx", "web.pfx"), tlsObject("from-pfx-text", "web.pfx.b64"))
	n := e.node("node-1")
	r := e.request(e.pod("web-0", n.name), "tls", params)
	n.mount(t, r)
	for _, tc := range []struct{ secret, leaf string }{
		{"from-pem", "web-pem.crt"}, {"from-pfx-pem", "web-pfx.crt"}, {"from-pfx", "web-pfx.crt"}, {"from-pfx-text", "web-pfx.crt"},
	} {
		t.Run(tc.secret, func(t *testing.T) {
			var s *corev1.Secret
			eventually(t, wait, "Secret "+tc.secret, func() bool { s = e.secret(tc.secret); return s != nil })
			if s.Type != corev1.SecretTypeTLS {
				t.Errorf("type = %s", s.Type)
			}
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range s.Data {
					if !yield(k) {
						return
					}
				}
			})
			if diff := cmp.Diff([]string{"tls.crt", "tls.key"}, keys); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
			if _, err := tls.X509KeyPair(s.Data["tls.crt"], s.Data["tls.key"]); err != nil {
				t.Fatalf("tls.crt and tls.key are no key pair: %v", err)
			}
			leaf := readFile(t, filepath.Join(r.TargetPath, tc.leaf))
			if !strings.HasPrefix(string(s.Data["tls.crt"]), leaf) {
				t.Errorf("tls.crt does not start with the certificate %s mounts", tc.leaf)
			}
			if !strings.HasPrefix(string(s.Data["tls.key"]), "-----BEGIN RSA PRIVATE KEY-----") {
				t.Errorf("tls.key is not a PKCS#1 RSA key as upstream writes it: %.32q", s.Data["tls.key"])
			}
		})
	}
}

// TestLifetimeAcrossNodes is a rolling update across two nodes, then scale
// to zero: the Secret lives while any pod mounts it and goes with the last.
func TestLifetimeAcrossNodes(t *testing.T) {
	noLeaks(t)
	gctest.Start(t, shared)
	e := newEnv(t, shared, time.Minute)
	e.kv.SetSecret(vaultName, "db-password", "pw-1", "")
	params := e.params("objectName: db-password\nobjectType: secret")
	e.class("app", params, &kube.SecretObject{SecretName: "db", Data: []*kube.SecretObjectData{{ObjectName: "db-password", Key: "password"}}})
	n1, n2 := e.node("node-1"), e.node("node-2")
	old := e.pod("web-old", n1.name)
	rOld := e.request(old, "app", params)
	n1.mount(t, rOld)
	eventually(t, wait, "Secret created", func() bool { return e.secret("db") != nil })

	// Rolling update: the new pod mounts on the other node before the old one goes.
	fresh := e.pod("web-new", n2.name)
	rNew := e.request(fresh, "app", params)
	n2.mount(t, rNew)
	eventually(t, wait, "both pods own the Secret", func() bool {
		return slices.Equal(owners(e.secret("db")), []string{"Pod/web-old", "Pod/web-new"})
	})
	// The old pod's object is deleted first (kubelet unmounts after): the
	// garbage collector removes the dangling owner and keeps the Secret.
	e.deletePod(old)
	eventually(t, wait, "garbage collector drops the deleted pod from the owners", func() bool {
		s := e.secret("db")
		if s == nil {
			t.Fatal("the Secret was deleted while web-new still mounts it")
		}
		return slices.Equal(owners(s), []string{"Pod/web-new"})
	})
	n1.unmount(t, rOld)
	eventually(t, wait, "old pod's status deleted", func() bool { return e.status(secretsync.StatusName("web-old", e.ns, "app")) == nil })
	if s := e.secret("db"); s == nil || string(s.Data["password"]) != "pw-1" {
		t.Fatalf("Secret after the old pod unmounted: %v", s)
	}

	// Scale to zero: the last pod unmounts and goes.
	n2.unmount(t, rNew)
	e.deletePod(fresh)
	eventually(t, wait, "Secret deleted with its last pod", func() bool { return e.secret("db") == nil })
}

// TestScaleToZeroWithoutUnmount deletes both pods while their nodes'
// writers are gone (a node lost): the garbage collector deletes the Secret.
func TestScaleToZeroWithoutUnmount(t *testing.T) {
	noLeaks(t)
	gctest.Start(t, shared)
	e := newEnv(t, shared, time.Minute)
	e.kv.SetSecret(vaultName, "db-password", "pw-1", "")
	params := e.params("objectName: db-password\nobjectType: secret")
	e.class("app", params, &kube.SecretObject{SecretName: "db", Data: []*kube.SecretObjectData{{ObjectName: "db-password", Key: "password"}}})
	n1, n2 := e.node("node-1"), e.node("node-2")
	a, b := e.pod("web-a", n1.name), e.pod("web-b", n2.name)
	n1.mount(t, e.request(a, "app", params))
	n2.mount(t, e.request(b, "app", params))
	eventually(t, wait, "both pods own the Secret", func() bool {
		s := e.secret("db")
		return s != nil && len(s.OwnerReferences) == 2
	})
	n1.writer.Close()
	n2.writer.Close()
	e.deletePod(a)
	e.deletePod(b)
	eventually(t, wait, "garbage collector deletes the Secret", func() bool { return e.secret("db") == nil })
}

func TestUnmanagedSecretIsLeftAlone(t *testing.T) {
	noLeaks(t)
	e := newEnv(t, shared, time.Minute)
	e.kv.SetSecret(vaultName, "db-password", "pw-1", "")
	mine := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: e.ns, Labels: map[string]string{"owner": "someone-else"}},
		Data:       map[string][]byte{"password": []byte("hand-written")},
	}
	before, err := e.c.Client.CoreV1().Secrets(e.ns).Create(ctx(t), mine, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	params := e.params("objectName: db-password\nobjectType: secret")
	e.class("app", params, &kube.SecretObject{SecretName: "db", Data: []*kube.SecretObjectData{{ObjectName: "db-password", Key: "password"}}})
	n := e.node("node-1")
	pod := e.pod("web-0", n.name)
	r := e.request(pod, "app", params)
	n.mount(t, r)

	var msgs []string
	eventually(t, wait, "FailedToCreateSecret event", func() bool { msgs = e.events(pod, secretsync.ReasonFailedToCreateSecret); return len(msgs) > 0 })
	if !strings.Contains(msgs[0], "secretName") || !strings.Contains(msgs[0], secretsync.ManagedLabel) {
		t.Errorf("event message does not say what to fix: %q", msgs[0])
	}
	if got := n.metric(t, "sync_k8s_secret_error_total", map[string]string{"error_type": "unmanaged"}); got < 1 {
		t.Errorf("sync_k8s_secret_error_total{error_type=unmanaged} = %v, want ≥ 1", got)
	}
	n.unmount(t, r)
	eventually(t, wait, "status deleted on unmount", func() bool { return e.status(secretsync.StatusName("web-0", e.ns, "app")) == nil })
	after := e.secret("db")
	if after == nil || after.ResourceVersion != before.ResourceVersion || string(after.Data["password"]) != "hand-written" {
		t.Errorf("unmanaged Secret changed: before rv %s, after %v", before.ResourceVersion, after)
	}
	if len(msgs) != 1 {
		t.Errorf("%d FailedToCreateSecret events, want 1 (no repeat per retry)", len(msgs))
	}
}

// TestAPIServerOutage stops the API server while a secret rotates and a
// second pod mounts: the mounts keep working, and once the API server is
// back the Secret, its owners and both statuses catch up.
func TestAPIServerOutage(t *testing.T) {
	noLeaks(t)
	c := kubetest.Start(t)
	const ttl = 500 * time.Millisecond
	e := newEnv(t, c, ttl)
	e.kv.SetSecret(vaultName, "db-password", "pw-1", "")
	params := e.params("objectName: db-password\nobjectType: secret")
	e.class("app", params, &kube.SecretObject{SecretName: "db", Data: []*kube.SecretObjectData{{ObjectName: "db-password", Key: "password"}}})
	n := e.node("node-1")
	a, b := e.pod("web-a", n.name), e.pod("web-b", n.name)
	e.classes.WaitForSync(ctx(t))
	ra, rb := e.request(a, "app", params), e.request(b, "app", params)
	n.mount(t, ra)
	eventually(t, wait, "Secret created", func() bool { return e.secret("db") != nil })

	c.StopAPIServer()
	e.kv.SetSecret(vaultName, "db-password", "pw-2-during-outage", "")
	n.mount(t, rb)
	eventually(t, wait, "mount rotated without the API server", func() bool {
		return readFile(t, filepath.Join(ra.TargetPath, "db-password")) == "pw-2-during-outage"
	})
	eventually(t, wait, "sync failures counted", func() bool {
		return n.metric(t, "sync_k8s_secret_error_total", map[string]string{"error_type": "api"}) > 0
	})
	c.Restart(t)

	eventually(t, wait, "Secret caught up", func() bool {
		s := e.secret("db")
		return s != nil && string(s.Data["password"]) == "pw-2-during-outage" &&
			slices.Equal(owners(s), []string{"Pod/web-a", "Pod/web-b"})
	})
	for _, p := range []string{"web-a", "web-b"} {
		eventually(t, wait, "status of "+p, func() bool {
			st := e.status(secretsync.StatusName(p, e.ns, "app"))
			return st != nil && st.Status.Mounted
		})
	}
}

// TestConcurrentMountsKeepEveryOwner mounts and unmounts eight pods on two
// nodes at once: writers race on one Secret, conflicts are retried, and no
// owner is lost or left behind.
func TestConcurrentMountsKeepEveryOwner(t *testing.T) {
	noLeaks(t)
	e := newEnv(t, shared, time.Minute)
	e.kv.SetSecret(vaultName, "db-password", "pw-1", "")
	params := e.params("objectName: db-password\nobjectType: secret")
	e.class("app", params, &kube.SecretObject{SecretName: "db", Data: []*kube.SecretObjectData{{ObjectName: "db-password", Key: "password"}}})
	nodes := []*node{e.node("node-1"), e.node("node-2")}
	type mounted struct {
		n *node
		r csi.MountRequest
	}
	var all []mounted
	for i := range 8 {
		n := nodes[i%2]
		all = append(all, mounted{n, e.request(e.pod(fmt.Sprintf("web-%d", i), n.name), "app", params)})
	}
	run := func(f func(m mounted) error) {
		var g errgroup.Group
		for _, m := range all {
			g.Go(func() error { return f(m) })
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	run(func(m mounted) error { return m.n.manager.Mount(context.Background(), m.r) })
	eventually(t, wait, "eight owners", func() bool {
		s := e.secret("db")
		return s != nil && len(s.OwnerReferences) == 8
	})
	run(func(m mounted) error { return m.n.manager.Unmount(context.Background(), m.r.TargetPath) })
	eventually(t, wait, "Secret deleted after the last unmount", func() bool { return e.secret("db") == nil })
	for _, m := range all {
		eventually(t, wait, "status of "+m.r.Pod.Name+" deleted", func() bool {
			return e.status(secretsync.StatusName(m.r.Pod.Name, e.ns, "app")) == nil
		})
	}
}

// TestPodUIDLookedUpWhenMissing: kubelet without podInfoOnMount sends no
// pod UID; the owner reference must still name the real pod.
func TestPodUIDLookedUpWhenMissing(t *testing.T) {
	noLeaks(t)
	e := newEnv(t, shared, time.Minute)
	e.kv.SetSecret(vaultName, "db-password", "pw-1", "")
	params := e.params("objectName: db-password\nobjectType: secret")
	e.class("app", params, &kube.SecretObject{SecretName: "db", Data: []*kube.SecretObjectData{{ObjectName: "db-password", Key: "password"}}})
	n := e.node("node-1")
	pod := e.pod("web-0", n.name)
	r := e.request(pod, "app", params)
	r.Pod.UID = ""
	n.mount(t, r)
	var s *corev1.Secret
	eventually(t, wait, "Secret created", func() bool { s = e.secret("db"); return s != nil })
	if len(s.OwnerReferences) != 1 || string(s.OwnerReferences[0].UID) != pod.UID {
		t.Errorf("owners %v, want the pod with UID %s", s.OwnerReferences, pod.UID)
	}
}

// TestResyncRestoresDeletedSecret: a synced Secret someone deletes comes
// back without a rotation.
func TestResyncRestoresDeletedSecret(t *testing.T) {
	noLeaks(t)
	e := newEnv(t, shared, time.Minute)
	e.kv.SetSecret(vaultName, "db-password", "pw-1", "")
	params := e.params("objectName: db-password\nobjectType: secret")
	e.class("app", params, &kube.SecretObject{SecretName: "db", Data: []*kube.SecretObjectData{{ObjectName: "db-password", Key: "password"}}})
	n := e.nodeWith("node-1", secretsync.Options{Resync: 200 * time.Millisecond})
	n.mount(t, e.request(e.pod("web-0", n.name), "app", params))
	var first *corev1.Secret
	eventually(t, wait, "Secret created", func() bool { first = e.secret("db"); return first != nil })
	if err := e.c.Client.CoreV1().Secrets(e.ns).Delete(ctx(t), "db", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, "Secret created again", func() bool {
		s := e.secret("db")
		return s != nil && s.UID != first.UID && string(s.Data["password"]) == "pw-1"
	})
}
