//go:build linux

package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/secretfs/secretfs/csi"
	"github.com/secretfs/secretfs/kube"
	"github.com/secretfs/secretfs/vault"
)

// classMap stands in for the Kubernetes API server: the benchmark measures
// the node service and Key Vault, not the SecretProviderClass informer
// (whose Get is a local cache lookup in `secretfs node` too).
type classMap struct {
	mu sync.Mutex
	m  map[string]*kube.SecretProviderClass // by namespace/name; guarded by mu
}

var _ csi.ClassGetter = (*classMap)(nil)

func newClassMap() *classMap { return &classMap{m: map[string]*kube.SecretProviderClass{}} }

// Get returns the class set for namespace/name.
func (c *classMap) Get(namespace, name string) (*kube.SecretProviderClass, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	spc, ok := c.m[namespace+"/"+name]
	if !ok {
		return nil, fmt.Errorf("%s/%s: %w", namespace, name, kube.ErrNotFound)
	}
	return spc, nil
}

func (c *classMap) set(namespace, name string, params map[string]string) {
	spc := &kube.SecretProviderClass{Spec: kube.SecretProviderClassSpec{Provider: "azure", Parameters: params}}
	spc.Name, spc.Namespace = name, namespace
	c.mu.Lock()
	c.m[namespace+"/"+name] = spc
	c.mu.Unlock()
}

// csiNode is the CSI node service of a node, served on a unix socket, and
// a gRPC client connected to it as kubelet is.
type csiNode struct {
	cancel  context.CancelFunc
	done    chan error
	conn    *grpc.ClientConn
	client  csipb.NodeClient
	mounter *timingMounter
}

func startCSI(n *node, classes csi.ClassGetter, socket, cloudEnvDir string) (*csiNode, error) {
	tm := &timingMounter{Mounter: n.mgr}
	srv := csi.NewNodeServer(csi.Config{NodeID: "bench-node", Backend: n.mgr.Backend(), CloudEnvDir: cloudEnvDir}, classes, tm)
	lis, err := csi.Listen("unix://" + socket)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &csiNode{cancel: cancel, done: make(chan error, 1), mounter: tm}
	go func() { c.done <- srv.ServeListener(ctx, lis) }()
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("connecting to the CSI socket: %w", err)
	}
	c.conn, c.client = conn, csipb.NewNodeClient(conn)
	return c, nil
}

// stop closes the client and stops serving; it does not unmount.
func (c *csiNode) stop() error {
	if c.conn != nil {
		c.conn.Close()
	}
	c.cancel()
	return <-c.done
}

// publishRequest is what kubelet sends for an inline ephemeral volume of a
// pod with volumeAttributes {secretProviderClass: class} and a
// nodePublishSecretRef holding pc.
func publishRequest(target, namespace, class string, pod int, pc vault.PodCredentials) *csipb.NodePublishVolumeRequest {
	os.MkdirAll(filepath.Dir(target), 0o750) // kubelet creates the parent
	sum := sha256.Sum256([]byte(target))
	return &csipb.NodePublishVolumeRequest{
		VolumeId:   "csi-" + hex.EncodeToString(sum[:16]),
		TargetPath: target,
		VolumeCapability: &csipb.VolumeCapability{
			AccessType: &csipb.VolumeCapability_Mount{Mount: &csipb.VolumeCapability_MountVolume{}},
			AccessMode: &csipb.VolumeCapability_AccessMode{Mode: csipb.VolumeCapability_AccessMode_SINGLE_NODE_WRITER},
		},
		Readonly: true,
		Secrets:  map[string]string{"clientid": pc.ClientID, "clientsecret": pc.ClientSecret},
		VolumeContext: map[string]string{
			"secretProviderClass":                    class,
			"csi.storage.k8s.io/pod.name":            fmt.Sprintf("pod-%d", pod),
			"csi.storage.k8s.io/pod.namespace":       namespace,
			"csi.storage.k8s.io/pod.uid":             hex.EncodeToString(sum[16:]),
			"csi.storage.k8s.io/serviceAccount.name": "default",
			"csi.storage.k8s.io/ephemeral":           "true",
		},
	}
}

func unpublishRequest(target string) *csipb.NodeUnpublishVolumeRequest {
	sum := sha256.Sum256([]byte(target))
	return &csipb.NodeUnpublishVolumeRequest{VolumeId: "csi-" + hex.EncodeToString(sum[:16]), TargetPath: target}
}

// timingMounter wraps the node's Mounter to time its Mount calls, so a
// publish's latency can be split into the Mounter's part (fetch + mount)
// and the node service's (gRPC, validation, class, credentials, state).
type timingMounter struct {
	csi.Mounter

	mu   sync.Mutex
	last time.Duration // of the latest Mount; guarded by mu
}

var _ csi.Mounter = (*timingMounter)(nil)

// Mount times the wrapped Mount.
func (t *timingMounter) Mount(ctx context.Context, r csi.MountRequest) error {
	t0 := time.Now()
	err := t.Mounter.Mount(ctx, r)
	t.mu.Lock()
	t.last = time.Since(t0)
	t.mu.Unlock()
	return err
}

func (t *timingMounter) lastMount() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}
