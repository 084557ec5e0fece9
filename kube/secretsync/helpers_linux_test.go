package secretsync_test

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/rest"

	"github.com/secretfs/secretfs/cache"
	"github.com/secretfs/secretfs/csi"
	"github.com/secretfs/secretfs/kube"
	"github.com/secretfs/secretfs/kube/kubetest"
	"github.com/secretfs/secretfs/kube/secretsync"
	"github.com/secretfs/secretfs/vault"
	"github.com/secretfs/secretfs/vault/emulator"
	"github.com/secretfs/secretfs/vault/emulator/emulatortest"
	"github.com/secretfs/secretfs/volume"
)

// These tests run every real part: kube-apiserver and etcd (kubetest), the
// garbage collector where a test relies on it (gctest), the Key Vault
// emulator over TLS with the real Azure SDK, the node cache, volume.Manager
// and real FUSE mounts (as root, as CI runs).

const (
	vaultName = "kv-sync"
	clientID  = "33333333-0000-0000-0000-0000000000a1"
	clientSec = "sync-client-secret-value"
)

// shared is the cluster of every test that does not stop the API server.
var shared *kubetest.Cluster

func TestMain(m *testing.M) {
	kubetest.Main(m, func(c *kubetest.Cluster) { shared = c })
}

// noLeaks checks, when t ends, that t started no goroutine that outlives
// it. client-go's cached HTTP transports outlive any one test by design.
func noLeaks(t *testing.T) {
	opts := []goleak.Option{
		goleak.IgnoreCurrent(),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("golang.org/x/net/http2.(*ClientConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*http2ClientConn).readLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	}
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}

// env is one namespace on a cluster, one emulator and the classes informer.
type env struct {
	t       *testing.T
	c       *kubetest.Cluster
	kv      *emulator.Server
	ns      string
	spcs    rest.Interface
	classes *kube.Classes
	ttl     time.Duration
}

func newEnv(t *testing.T, c *kubetest.Cluster, ttl time.Duration) *env {
	t.Helper()
	c.ApplyCRDs(t)
	e := &env{t: t, c: c, kv: emulatortest.Start(t), ttl: ttl}
	e.kv.AddServicePrincipal(clientID, clientSec)
	e.kv.Grant(clientID, vaultName, emulator.Read)
	var err error
	if e.spcs, err = kube.NewRESTClient(c.Config); err != nil {
		t.Fatal(err)
	}
	if e.classes, err = kube.NewClasses(c.Config); err != nil {
		t.Fatal(err)
	}
	e.classes.Start(context.Background())
	t.Cleanup(func() { e.classes.Close() })
	// GenerateName: a namespace is never deleted here (no namespace
	// controller runs), so a fixed name fails the test's second run in the
	// same cluster (go test -count=N).
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: namespaceFor(t) + "-"}}
	created, err := c.Client.CoreV1().Namespaces().Create(ctx(t), ns, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	e.ns = created.Name
	return e
}

var notDNS = regexp.MustCompile(`[^a-z0-9]+`)

func namespaceFor(t *testing.T) string {
	n := strings.Trim(notDNS.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(n) > 50 {
		n = n[:50]
	}
	return strings.Trim(n, "-")
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// node is one node's secretfs: cache, volume manager and sync writer.
type node struct {
	name    string
	manager *volume.Manager
	writer  *secretsync.Writer
	reg     *prometheus.Registry
}

func (e *env) node(name string) *node {
	return e.nodeWith(name, secretsync.Options{RetryBase: 50 * time.Millisecond, RetryMax: time.Second})
}

// nodeWith is node with writer options (NodeName and Registerer are set here).
func (e *env) nodeWith(name string, opts secretsync.Options) *node {
	t := e.t
	t.Helper()
	n := &node{name: name, reg: prometheus.NewRegistry()}
	c := cache.New(cache.Options{TTL: e.ttl, RetryAfter: vault.RetryAfter})
	t.Cleanup(c.Close)
	tr := e.kv.HTTPClient()
	vn := volume.NewNode(c, vault.NewCredentials(vault.CredentialOptions{Transport: tr}), vault.ClientOptions{Transport: tr})
	t.Cleanup(vn.Close)
	b, err := volume.NewBackend("fuse", volume.FuseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.manager = volume.NewManager(vn, b)
	opts.NodeName, opts.Registerer = name, n.reg
	n.writer, err = secretsync.New(e.c.Config, e.classes, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.writer.Close() })
	n.manager.SetObserver(n.writer)
	return n
}

// params are SecretProviderClass parameters on the emulator's custom cloud.
func (e *env) params(objects ...string) map[string]string {
	var b strings.Builder
	b.WriteString("array:\n")
	for _, o := range objects {
		b.WriteString("  - |\n")
		for _, line := range strings.Split(o, "\n") {
			fmt.Fprintf(&b, "    %s\n", line)
		}
	}
	return map[string]string{
		"keyvaultName": vaultName, "tenantID": e.kv.TenantID(),
		"cloudName": "AzureStackCloud", "cloudEnvFileName": e.kv.CloudEnvFile(), "objects": b.String(),
	}
}

// class creates a SecretProviderClass with secretObjects.
func (e *env) class(name string, params map[string]string, objs ...*kube.SecretObject) {
	e.t.Helper()
	spc := &kube.SecretProviderClass{
		TypeMeta:   metav1.TypeMeta{APIVersion: kube.GroupVersion.String(), Kind: "SecretProviderClass"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec:       kube.SecretProviderClassSpec{Provider: "azure", Parameters: params, SecretObjects: objs},
	}
	if err := e.spcs.Post().Namespace(e.ns).Resource(kube.ClassResource).Body(spc).Do(ctx(e.t)).Error(); err != nil {
		e.t.Fatalf("creating SecretProviderClass %s: %v", name, err)
	}
}

// pod creates a Pod object bound to nodeName: no kubelet runs, so it stays
// Pending, which is all owner references need (a real UID).
func (e *env) pod(name, nodeName string) csi.PodInfo {
	e.t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec:       corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}},
	}
	created, err := e.c.Client.CoreV1().Pods(e.ns).Create(ctx(e.t), p, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("creating pod %s: %v", name, err)
	}
	return csi.PodInfo{Name: name, Namespace: e.ns, UID: string(created.UID), ServiceAccount: "default"}
}

// deletePod deletes at once, as the API server does once kubelet is done.
func (e *env) deletePod(p csi.PodInfo) {
	e.t.Helper()
	zero := int64(0)
	if err := e.c.Client.CoreV1().Pods(e.ns).Delete(ctx(e.t), p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		e.t.Fatalf("deleting pod %s: %v", p.Name, err)
	}
}

func (e *env) request(p csi.PodInfo, class string, params map[string]string) csi.MountRequest {
	e.t.Helper()
	vp, err := vault.ParseParameters(ctx(e.t), params, vault.ParseOptions{CloudEnvDir: filepath.Dir(e.kv.CloudEnvFile())})
	if err != nil {
		e.t.Fatal(err)
	}
	target := filepath.Join(e.t.TempDir(), p.Name)
	return csi.MountRequest{
		TargetPath: target, VolumeID: "csi-" + p.UID, Class: e.ns + "/" + class, Params: vp,
		Creds: vault.PodCredentials{ClientID: clientID, ClientSecret: clientSec}, Pod: p,
	}
}

// mount mounts r on n and unmounts it when the test ends (if still mounted).
func (n *node) mount(t *testing.T, r csi.MountRequest) {
	t.Helper()
	if err := n.manager.Mount(context.Background(), r); err != nil {
		t.Fatalf("Mount(%s): %v", r.TargetPath, err)
	}
	t.Cleanup(func() { n.manager.Unmount(context.Background(), r.TargetPath) })
}

func (n *node) unmount(t *testing.T, r csi.MountRequest) {
	t.Helper()
	if err := n.manager.Unmount(context.Background(), r.TargetPath); err != nil {
		t.Fatalf("Unmount(%s): %v", r.TargetPath, err)
	}
}

// secret returns the Secret, or nil if it does not exist.
func (e *env) secret(name string) *corev1.Secret {
	e.t.Helper()
	s, err := e.c.Client.CoreV1().Secrets(e.ns).Get(ctx(e.t), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		e.t.Fatalf("reading Secret %s: %v", name, err)
	}
	return s
}

// status returns the SecretProviderClassPodStatus, or nil.
func (e *env) status(name string) *kube.SecretProviderClassPodStatus {
	e.t.Helper()
	st := &kube.SecretProviderClassPodStatus{}
	err := e.spcs.Get().Namespace(e.ns).Resource(kube.PodStatusResource).Name(name).Do(ctx(e.t)).Into(st)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		e.t.Fatalf("reading SecretProviderClassPodStatus %s: %v", name, err)
	}
	return st
}

// events returns the messages of the pod's events with reason.
func (e *env) events(p csi.PodInfo, reason string) []string {
	e.t.Helper()
	sel := fields.Set{"involvedObject.name": p.Name, "reason": reason}.String()
	list, err := e.c.Client.CoreV1().Events(e.ns).List(ctx(e.t), metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		e.t.Fatalf("listing events: %v", err)
	}
	var msgs []string
	for _, ev := range list.Items {
		if string(ev.InvolvedObject.UID) == p.UID {
			msgs = append(msgs, ev.Message)
		}
	}
	return msgs
}

func owners(s *corev1.Secret) []string {
	var names []string
	for _, o := range s.OwnerReferences {
		names = append(names, o.Kind+"/"+o.Name)
	}
	return names
}

// metric sums the samples of a metric whose labels include want.
func (n *node) metric(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	families, err := n.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	samples:
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue samples
				}
			}
			sum += m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// eventually polls cond until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
