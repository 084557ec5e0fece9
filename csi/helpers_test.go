package csi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/secretfs/secretfs/csi"
	"github.com/secretfs/secretfs/kube"
)

// Values that must never show up in logs or errors.
const (
	testClientSecret = "s3cr3t-CLIENT-secret-value"
	testToken        = "eyJTOKEN.never-log-me.sig"
)

// stubMounter stands in for package volume's Mounter, which does the real
// FUSE or files mounts and is tested end to end there. It records calls,
// creates and removes the target directory as the real one does, and can
// be told to fail or to wait.
type stubMounter struct {
	mu       sync.Mutex
	mounts   []csi.MountRequest
	unmounts []string
	err      error                                    // returned by Mount
	unmntErr error                                    // returned by Unmount
	gate     func(ctx context.Context, target string) // called first by Mount, if set
}

var _ csi.Mounter = (*stubMounter)(nil)

func (m *stubMounter) Mount(ctx context.Context, r csi.MountRequest) error {
	m.mu.Lock()
	gate, err := m.gate, m.err
	m.mu.Unlock()
	if gate != nil {
		gate(ctx, r.TargetPath)
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(r.TargetPath, 0o755); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mounts = append(m.mounts, r)
	return nil
}

func (m *stubMounter) Unmount(_ context.Context, target string) error {
	m.mu.Lock()
	m.unmounts = append(m.unmounts, target)
	err := m.unmntErr
	m.mu.Unlock()
	if err != nil {
		return err
	}
	if err := os.RemoveAll(target); err != nil {
		return fmt.Errorf("remove target: %w", err)
	}
	return nil
}

func (m *stubMounter) calls() ([]csi.MountRequest, []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]csi.MountRequest(nil), m.mounts...), append([]string(nil), m.unmounts...)
}

func (m *stubMounter) setGate(gate func(ctx context.Context, target string)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gate = gate
}

func (m *stubMounter) setErr(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.err = err
}

// classMap is a ClassGetter over a fixed set; kube.Classes itself is tested
// against a real API server in package kube.
type classMap map[string]*kube.SecretProviderClass

func (c classMap) Get(namespace, name string) (*kube.SecretProviderClass, error) {
	spc, ok := c[namespace+"/"+name]
	if !ok {
		return nil, fmt.Errorf("failed to get secretproviderclass %s/%s: %w", namespace, name, kube.ErrNotFound)
	}
	return spc.DeepCopy(), nil
}

// errClasses is a ClassGetter whose API server is down.
type errClasses struct{}

func (errClasses) Get(namespace, name string) (*kube.SecretProviderClass, error) {
	return nil, errors.New("connection refused")
}

func objectsParam(names ...string) string {
	s := "array:\n"
	for _, n := range names {
		s += "  - |\n    objectName: " + n + "\n    objectType: secret\n"
	}
	return s
}

func azureClass(ns, name string, params map[string]string) *kube.SecretProviderClass {
	spc := &kube.SecretProviderClass{Spec: kube.SecretProviderClassSpec{Provider: "azure", Parameters: map[string]string{
		"keyvaultName": "kv1",
		"tenantID":     "tenant-1",
		"objects":      objectsParam("db-password", "api-key"),
	}}}
	spc.Name, spc.Namespace = name, ns
	for k, v := range params {
		spc.Spec.Parameters[k] = v
	}
	return spc
}

func defaultClasses() classMap {
	return classMap{
		"app/spc":      azureClass("app", "spc", nil),
		"app/wi":       azureClass("app", "wi", map[string]string{"clientID": "wi-client"}),
		"app/vmid":     azureClass("app", "vmid", map[string]string{"useVMManagedIdentity": "true"}),
		"app/bad":      azureClass("app", "bad", map[string]string{"objects": "array:\n  - |\n    objectName: x\n    objectType: blob\n"}),
		"app/vaultspc": {Spec: kube.SecretProviderClassSpec{Provider: "vault"}},
	}
}

func tokensJSON(token string) string {
	return `{"api://AzureADTokenExchange":{"token":"` + token + `","expirationTimestamp":"2030-01-01T00:00:00Z"}}`
}

// publishReq is what kubelet sends for an inline ephemeral volume with
// readOnly: true and a nodePublishSecretRef.
func publishReq(target string) *csipb.NodePublishVolumeRequest {
	return &csipb.NodePublishVolumeRequest{
		VolumeId:   "csi-0123456789abcdef",
		TargetPath: target,
		Readonly:   true,
		VolumeCapability: &csipb.VolumeCapability{
			AccessType: &csipb.VolumeCapability_Mount{Mount: &csipb.VolumeCapability_MountVolume{}},
			AccessMode: &csipb.VolumeCapability_AccessMode{Mode: csipb.VolumeCapability_AccessMode_SINGLE_NODE_WRITER},
		},
		VolumeContext: map[string]string{
			"secretProviderClass":                    "spc",
			"csi.storage.k8s.io/pod.name":            "web-0",
			"csi.storage.k8s.io/pod.namespace":       "app",
			"csi.storage.k8s.io/pod.uid":             "uid-1",
			"csi.storage.k8s.io/serviceAccount.name": "web",
			"csi.storage.k8s.io/ephemeral":           "true",
		},
		Secrets: map[string]string{"clientid": "client-1", "clientsecret": testClientSecret},
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is a node service on a real unix socket and a client connected to it.
type env struct {
	node    csipb.NodeClient
	id      csipb.IdentityClient
	conn    *grpc.ClientConn
	mounter *stubMounter
	state   *csi.State
	reg     *prometheus.Registry
	logs    *syncBuffer
	dir     string // for targets
	socket  string
}

type envOption func(*csi.Config)

// startEnv serves a NodeServer on a socket in a short temp dir (unix socket
// paths are limited to 108 bytes) until the test ends.
func startEnv(t testing.TB, classes csi.ClassGetter, opts ...envOption) *env {
	t.Helper()
	dir, err := os.MkdirTemp("", "csi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	e := &env{mounter: &stubMounter{}, reg: prometheus.NewRegistry(), logs: &syncBuffer{}, dir: dir, socket: filepath.Join(dir, "csi.sock")}
	e.state, err = csi.OpenState(filepath.Join(dir, "state", "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := csi.Config{
		NodeID: "node-1", Version: "v0.0.1-test", Backend: "fuse", State: e.state, Registerer: e.reg,
		Logger: slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv := csi.NewNodeServer(cfg, classes, e.mounter)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, "unix://"+e.socket) }()
	e.conn, err = grpc.NewClient("unix://"+e.socket, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.WaitForReady(true)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	e.node, e.id = csipb.NewNodeClient(e.conn), csipb.NewIdentityClient(e.conn)
	return e
}

func (e *env) target(name string) string { return filepath.Join(e.dir, "pods", name, "mount") }
