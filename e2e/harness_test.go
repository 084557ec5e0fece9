package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/secretfs/secretfs/kube/kubetest"
	"github.com/secretfs/secretfs/vault/emulator"
)

// harness is one cluster, one emulator and one `secretfs node` process.
type harness struct {
	cluster  *kubetest.Cluster
	kv       *emulator.Server
	bin      string
	dir      string
	endpoint string
	logFile  string
	node     *exec.Cmd
	conn     *grpc.ClientConn
	csi      csipb.NodeClient
	ident    csipb.IdentityClient
	ttl      time.Duration
	metrics  string
	nodeArgs []string // extra `secretfs node` flags, e.g. --sync-secrets
}

var spcResource = schema.GroupVersionResource{Group: "secrets-store.csi.x-k8s.io", Version: "v1", Resource: "secretproviderclasses"}

func newHarness(t *testing.T, ttl time.Duration, nodeArgs ...string) *harness {
	t.Helper()
	h := &harness{cluster: kubetest.Start(t), dir: t.TempDir(), ttl: ttl, nodeArgs: nodeArgs}
	h.cluster.ApplyCRDs(t)
	kv, err := emulator.Start(emulator.Options{Dir: filepath.Join(h.dir, "kv")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.Close() })
	h.kv = kv
	h.bin = buildSecretfs(t)
	h.endpoint = "unix://" + filepath.Join(h.dir, "csi.sock")
	h.metrics = freeAddr(t)
	h.logFile = filepath.Join(h.dir, "node.log")
	h.startNode(t)
	t.Cleanup(func() { h.stopNode(t) })
	return h
}

func buildSecretfs(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "secretfs")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/secretfs")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building secretfs: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startNode starts `secretfs node` as kubelet's node plugin would run, and
// waits until its CSI Probe answers ready. The harness stops it at the end.
func (h *harness) startNode(t *testing.T) {
	t.Helper()
	log, err := os.OpenFile(h.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"node",
		"--endpoint", h.endpoint, "--node-id", "node-1", "--kubeconfig", h.cluster.Kubeconfig(),
		"--ttl", h.ttl.String(), "--backend", "fuse", "--state-file", filepath.Join(h.dir, "state.json"),
		"--metrics-addr", h.metrics, "--health-addr", "", "--log-format", "json",
		"--ca-file", h.kv.CAFile(), "--resolve", "test=" + h.kv.Addr(), "--cloud-env-dir", filepath.Dir(h.kv.CloudEnvFile())}
	h.node = exec.Command(h.bin, append(args, h.nodeArgs...)...)
	h.node.Stdout, h.node.Stderr = log, log
	if err := h.node.Start(); err != nil {
		t.Fatal(err)
	}
	log.Close() // the child holds its own descriptor
	conn, err := grpc.NewClient(h.endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	h.conn, h.csi, h.ident = conn, csipb.NewNodeClient(conn), csipb.NewIdentityClient(conn)
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := h.ident.Probe(ctx, &csipb.ProbeRequest{})
		cancel()
		if err == nil && resp.GetReady().GetValue() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("secretfs node not ready: %v\n%s", err, h.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (h *harness) stopNode(t *testing.T) {
	if h.node == nil || h.node.Process == nil {
		return
	}
	h.conn.Close()
	h.node.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- h.node.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		h.node.Process.Kill()
		<-done
		t.Errorf("secretfs node did not stop on SIGTERM within 20s")
	}
	h.node = nil
}

func (h *harness) logTail() string {
	b, _ := os.ReadFile(h.logFile)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// createClass creates a SecretProviderClass through the API server.
func (h *harness) createClass(t *testing.T, namespace, name string, params map[string]string) {
	t.Helper()
	p := map[string]any{}
	for k, v := range params {
		p[k] = v
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "secrets-store.csi.x-k8s.io/v1", "kind": "SecretProviderClass",
		"metadata": map[string]any{"name": name, "namespace": namespace},
		"spec":     map[string]any{"provider": "azure", "parameters": p},
	}}
	h.ensureNamespace(t, namespace)
	if _, err := h.cluster.Dynamic.Resource(spcResource).Namespace(namespace).Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating SecretProviderClass %s/%s: %v", namespace, name, err)
	}
}

func (h *harness) ensureNamespace(t *testing.T, ns string) {
	t.Helper()
	_, err := h.cluster.Client.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating namespace %s: %v", ns, err)
	}
}

// azureParams are the parameters of a SecretProviderClass on the emulator's
// custom cloud, exactly as a user on a custom cloud writes them.
func (h *harness) azureParams(vaultName, objects string, extra ...string) map[string]string {
	p := map[string]string{
		"keyvaultName": vaultName, "tenantID": h.kv.TenantID(),
		"cloudName": "AzureStackCloud", "cloudEnvFileName": h.kv.CloudEnvFile(), "objects": objects,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		p[extra[i]] = extra[i+1]
	}
	return p
}

// pod is what kubelet knows of a pod that mounts a volume.
type pod struct {
	namespace, name, uid, serviceAccount string
}

func newPod(namespace, name string) pod {
	sum := sha256.Sum256([]byte(namespace + "/" + name))
	return pod{namespace: namespace, name: name, uid: hex.EncodeToString(sum[:16]), serviceAccount: "default"}
}

// targetPath is where kubelet asks a CSI driver to mount a pod's volume.
func (h *harness) targetPath(p pod, volume string) string {
	return filepath.Join(h.dir, "kubelet/pods", p.uid, "volumes/kubernetes.io~csi", volume, "mount")
}

// publishRequest is what kubelet sends for an inline ephemeral CSI volume of
// driver secretfs with readOnly: true and volumeAttributes
// {secretProviderClass: class}; secrets come from nodePublishSecretRef.
func (h *harness) publishRequest(p pod, volume, class string, secrets map[string]string) *csipb.NodePublishVolumeRequest {
	target := h.targetPath(p, volume)
	os.MkdirAll(filepath.Dir(target), 0o750) // kubelet creates the parent
	sum := sha256.Sum256([]byte(p.uid + volume))
	return &csipb.NodePublishVolumeRequest{
		VolumeId:   "csi-" + hex.EncodeToString(sum[:]),
		TargetPath: target,
		VolumeCapability: &csipb.VolumeCapability{
			AccessType: &csipb.VolumeCapability_Mount{Mount: &csipb.VolumeCapability_MountVolume{}},
			AccessMode: &csipb.VolumeCapability_AccessMode{Mode: csipb.VolumeCapability_AccessMode_SINGLE_NODE_WRITER},
		},
		Readonly: true,
		Secrets:  secrets,
		VolumeContext: map[string]string{
			"secretProviderClass":                    class,
			"csi.storage.k8s.io/pod.name":            p.name,
			"csi.storage.k8s.io/pod.namespace":       p.namespace,
			"csi.storage.k8s.io/pod.uid":             p.uid,
			"csi.storage.k8s.io/serviceAccount.name": p.serviceAccount,
			"csi.storage.k8s.io/ephemeral":           "true",
		},
	}
}

func (h *harness) publish(t *testing.T, req *csipb.NodePublishVolumeRequest) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := h.csi.NodePublishVolume(ctx, req)
	return err
}

func (h *harness) mustPublish(t *testing.T, req *csipb.NodePublishVolumeRequest) {
	t.Helper()
	if err := h.publish(t, req); err != nil {
		t.Fatalf("NodePublishVolume %s: %v\nnode log:\n%s", req.TargetPath, err, h.logTail())
	}
	t.Cleanup(func() { h.unpublish(t, req) })
}

func (h *harness) unpublish(t *testing.T, req *csipb.NodePublishVolumeRequest) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := h.csi.NodeUnpublishVolume(ctx, &csipb.NodeUnpublishVolumeRequest{VolumeId: req.VolumeId, TargetPath: req.TargetPath}); err != nil {
		t.Errorf("NodeUnpublishVolume %s: %v", req.TargetPath, err)
	}
}

// metric returns the sum of a counter's samples whose labels contain match.
func (h *harness) metric(t *testing.T, name, match string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + h.metrics + "/metrics")
	if err != nil {
		t.Fatalf("scraping metrics: %v", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("scraping metrics: %v", err)
	}
	var sum float64
	for _, line := range bytes.Split(out, []byte("\n")) {
		l := string(line)
		if !strings.HasPrefix(l, name) || !strings.Contains(l, match) {
			continue
		}
		f := strings.Fields(l)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func objects(entries ...string) string {
	var b strings.Builder
	b.WriteString("array:\n")
	for _, e := range entries {
		b.WriteString("  - |\n")
		for _, line := range strings.Split(strings.TrimSpace(e), "\n") {
			fmt.Fprintf(&b, "    %s\n", strings.TrimSpace(line))
		}
	}
	return b.String()
}
