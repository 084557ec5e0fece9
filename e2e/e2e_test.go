package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/secretfs/secretfs/vault/emulator"
)

const (
	appClient = "22222222-0000-0000-0000-0000000000a1"
	appSecret = "app-client-secret-value"
	badSecret = "wrong-client-secret-value"
	noGrant   = "22222222-0000-0000-0000-0000000000b2"
	wiClient  = "22222222-0000-0000-0000-0000000000c3"
	ttl       = 2 * time.Second
)

// TestKubeletScenarios drives `secretfs node` as kubelet does, one scenario
// per subtest, against one cluster, one emulator and one node process.
func TestKubeletScenarios(t *testing.T) {
	h := newHarness(t, ttl)
	h.kv.AddServicePrincipal(appClient, appSecret)
	h.kv.Grant(appClient, "kv-e2e", emulator.Read)
	h.kv.AddServicePrincipal(noGrant, "no-grant-secret-value")
	h.kv.SetSecret("kv-e2e", "db-password", "pw-1", "")
	if _, err := h.kv.CreateSelfSignedCertificate("kv-e2e", "web", "CN=web.example", "application/x-pkcs12"); err != nil {
		t.Fatal(err)
	}
	appCreds := map[string]string{"clientid": appClient, "clientsecret": appSecret}
	h.createClass(t, "team-a", "app", h.azureParams("kv-e2e", objects(
		"objectName: db-password\nobjectType: secret",
		"objectName: web\nobjectType: cert\nobjectAlias: web.crt",
		"objectName: web\nobjectType: secret\nobjectAlias: web.pem",
	)))

	t.Run("publish, read, rotate, republish, unpublish", func(t *testing.T) {
		p := newPod("team-a", "web-0")
		req := h.publishRequest(p, "secrets", "app", appCreds)
		h.mustPublish(t, req)
		if got := readFile(t, filepath.Join(req.TargetPath, "db-password")); got != "pw-1" {
			t.Errorf("db-password = %q, want pw-1", got)
		}
		if got := readFile(t, filepath.Join(req.TargetPath, "web.crt")); !strings.HasPrefix(got, "-----BEGIN CERTIFICATE-----") {
			t.Errorf("web.crt is not a PEM certificate: %.40q", got)
		}
		if got := readFile(t, filepath.Join(req.TargetPath, "web.pem")); !strings.HasPrefix(got, "-----BEGIN PRIVATE KEY-----") {
			t.Errorf("web.pem does not start with the private key: %.40q", got)
		}

		h.kv.SetSecret("kv-e2e", "db-password", "pw-2-rotated", "")
		start := time.Now()
		eventually(t, ttl+5*time.Second, "rotated db-password visible", func() bool {
			return readFile(t, filepath.Join(req.TargetPath, "db-password")) == "pw-2-rotated"
		})
		t.Logf("rotation reached the reader after %v (TTL %v)", time.Since(start).Round(time.Millisecond), ttl)

		before := h.kv.Count("GetSecret") + h.kv.Count("GetCertificate")
		for range 3 {
			if err := h.publish(t, req); err != nil {
				t.Fatalf("republish: %v", err)
			}
		}
		if got := h.kv.Count("GetSecret") + h.kv.Count("GetCertificate") - before; got > 3 {
			t.Errorf("3 republishes made %d Key Vault GETs; want none beyond the background refresh", got)
		}
	})

	t.Run("twenty pods, one identity: one GET per object per TTL", func(t *testing.T) {
		names := []string{"shared-a", "shared-b", "shared-c"}
		var objs []string
		for _, n := range names {
			h.kv.SetSecret("kv-e2e", n, "value-of-"+n, "")
			objs = append(objs, "objectName: "+n+"\nobjectType: secret")
		}
		h.createClass(t, "team-b", "shared", h.azureParams("kv-e2e", objects(objs...)))
		before := h.kv.Count("GetSecret")
		start := time.Now()
		const pods = 20
		reqs := make([]*csipb.NodePublishVolumeRequest, pods)
		var wg sync.WaitGroup
		errs := make([]error, pods)
		for i := range pods {
			reqs[i] = h.publishRequest(newPod("team-b", fmt.Sprintf("worker-%d", i)), "secrets", "shared", appCreds)
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = h.publish(t, reqs[i]) }()
		}
		wg.Wait()
		elapsed := time.Since(start)
		for i, err := range errs {
			if err != nil {
				t.Fatalf("pod %d: %v", i, err)
			}
			t.Cleanup(func() { h.unpublish(t, reqs[i]) })
		}
		for _, r := range reqs {
			if got := readFile(t, filepath.Join(r.TargetPath, "shared-b")); got != "value-of-shared-b" {
				t.Fatalf("%s/shared-b = %q", r.TargetPath, got)
			}
		}
		got := h.kv.Count("GetSecret") - before
		// One GET per object, plus at most one background refresh per
		// object per elapsed TTL (the cache refreshes held objects ahead).
		allowed := len(names) * (1 + int(elapsed/(ttl*9/10)))
		t.Logf("%d pods × %d objects published in %v: %d GetSecret requests (upstream: %d)", pods, len(names), elapsed.Round(time.Millisecond), got, pods*len(names))
		if got > allowed {
			t.Errorf("GetSecret requests = %d, want ≤ %d (one per object per TTL)", got, allowed)
		}
	})

	t.Run("workload identity token from the API server", func(t *testing.T) {
		sa := h.serviceAccountToken(t, "team-c", "default")
		h.kv.AddFederatedClient(wiClient, func(assertion string) bool { return assertion == sa })
		h.kv.Grant(wiClient, "kv-e2e", emulator.Read)
		h.createClass(t, "team-c", "wi", h.azureParams("kv-e2e", objects("objectName: db-password\nobjectType: secret"), "clientID", wiClient))
		req := h.publishRequest(newPod("team-c", "wi-0"), "secrets", "wi", nil)
		req.VolumeContext["csi.storage.k8s.io/serviceAccount.tokens"] = tokensJSON(sa)
		h.mustPublish(t, req)
		if got := readFile(t, filepath.Join(req.TargetPath, "db-password")); !strings.HasPrefix(got, "pw-") {
			t.Errorf("db-password = %q", got)
		}
		bad := h.publishRequest(newPod("team-c", "wi-1"), "secrets", "wi", nil)
		bad.VolumeContext["csi.storage.k8s.io/serviceAccount.tokens"] = tokensJSON("not-a-valid-token")
		expectRefused(t, h, bad, codes.PermissionDenied, "")
	})

	t.Run("bad input is refused clearly and leaves nothing behind", func(t *testing.T) {
		h.createClass(t, "team-d", "typo", h.azureParams("kv-e2e", objects("objectName: db-password\nobjectType: secret\nobjectAlais: pw")))
		h.createClass(t, "team-d", "nogrant", h.azureParams("kv-e2e", objects("objectName: db-password\nobjectType: secret")))
		h.createClass(t, "team-d", "missing-object", h.azureParams("kv-e2e", objects("objectName: does-not-exist\nobjectType: secret")))
		p := newPod("team-d", "bad")
		for _, tc := range []struct {
			name   string
			mutate func(*csipb.NodePublishVolumeRequest)
			code   codes.Code
			says   string
		}{
			{"no volume id", func(r *csipb.NodePublishVolumeRequest) { r.VolumeId = "" }, codes.InvalidArgument, "volume_id"},
			{"no target path", func(r *csipb.NodePublishVolumeRequest) { r.TargetPath = "" }, codes.InvalidArgument, "target_path"},
			{"no capability", func(r *csipb.NodePublishVolumeRequest) { r.VolumeCapability = nil }, codes.InvalidArgument, "volume_capability"},
			{"not read-only", func(r *csipb.NodePublishVolumeRequest) { r.Readonly = false }, codes.InvalidArgument, "readonly"},
			{"no class attribute", func(r *csipb.NodePublishVolumeRequest) { delete(r.VolumeContext, "secretProviderClass") }, codes.InvalidArgument, "secretProviderClass"},
			{"unknown class", func(r *csipb.NodePublishVolumeRequest) { r.VolumeContext["secretProviderClass"] = "nope" }, codes.FailedPrecondition, "team-d/nope"},
			{"class in another namespace", func(r *csipb.NodePublishVolumeRequest) { r.VolumeContext["secretProviderClass"] = "app" }, codes.FailedPrecondition, "team-d/app"},
			{"misspelled object field", func(r *csipb.NodePublishVolumeRequest) { r.VolumeContext["secretProviderClass"] = "typo" }, codes.InvalidArgument, "objectAlais"},
			{"no credentials", func(r *csipb.NodePublishVolumeRequest) { r.Secrets = nil }, codes.FailedPrecondition, "nodePublishSecretRef"},
			{"wrong client secret", func(r *csipb.NodePublishVolumeRequest) {
				r.Secrets = map[string]string{"clientid": appClient, "clientsecret": badSecret}
			}, codes.PermissionDenied, ""},
			{"identity without access (403)", func(r *csipb.NodePublishVolumeRequest) {
				r.VolumeContext["secretProviderClass"] = "nogrant"
				r.Secrets = map[string]string{"clientid": noGrant, "clientsecret": "no-grant-secret-value"}
			}, codes.PermissionDenied, "kv-e2e"},
			{"object missing in the vault", func(r *csipb.NodePublishVolumeRequest) { r.VolumeContext["secretProviderClass"] = "missing-object" }, codes.FailedPrecondition, "does-not-exist"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req := h.publishRequest(p, "v-"+strings.ReplaceAll(tc.name, " ", "-"), "typo", appCreds)
				req.VolumeContext["secretProviderClass"] = "nogrant"
				tc.mutate(req)
				expectRefused(t, h, req, tc.code, tc.says)
			})
		}
		// The driver keeps serving other volumes.
		good := h.publishRequest(newPod("team-a", "after-bad"), "secrets", "app", appCreds)
		h.mustPublish(t, good)
		if got := readFile(t, filepath.Join(good.TargetPath, "db-password")); !strings.HasPrefix(got, "pw-") {
			t.Errorf("db-password after bad requests = %q", got)
		}
	})

	t.Run("restart of the node process: republish brings volumes back", func(t *testing.T) {
		req := h.publishRequest(newPod("team-a", "restart-0"), "secrets", "app", appCreds)
		h.mustPublish(t, req)
		h.stopNode(t)
		h.startNode(t)
		if err := h.publish(t, req); err != nil {
			t.Fatalf("republish after restart: %v\n%s", err, h.logTail())
		}
		if got := readFile(t, filepath.Join(req.TargetPath, "db-password")); !strings.HasPrefix(got, "pw-") {
			t.Errorf("db-password after restart = %q", got)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		if got := h.metric(t, "node_publish_total", ""); got == 0 {
			t.Errorf("node_publish_total = 0 after publishes")
		}
		if got := h.metric(t, "secretfs_keyvault_requests_total", `operation="get_secret"`); got == 0 {
			t.Errorf("secretfs_keyvault_requests_total{operation=get_secret} = 0")
		}
	})

	t.Run("logs hold no secret", func(t *testing.T) {
		log, err := os.ReadFile(h.logFile)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{appSecret, badSecret, "no-grant-secret-value", "pw-1", "pw-2-rotated", "value-of-shared-b"} {
			if strings.Contains(string(log), secret) {
				t.Errorf("node log contains the secret %q", secret)
			}
		}
	})
}

func expectRefused(t *testing.T, h *harness, req *csipb.NodePublishVolumeRequest, code codes.Code, says string) {
	t.Helper()
	err := h.publish(t, req)
	if status.Code(err) != code {
		t.Fatalf("NodePublishVolume: %v, want code %v", err, code)
	}
	if says != "" && !strings.Contains(status.Convert(err).Message(), says) {
		t.Errorf("message %q does not name %q", status.Convert(err).Message(), says)
	}
	if req.TargetPath != "" {
		if _, err := os.Lstat(req.TargetPath); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("refused publish left %s behind (stat: %v)", req.TargetPath, err)
		}
	}
}

// serviceAccountToken asks the API server for a token with the audience
// kubelet requests for workload identity (CSIDriver tokenRequests).
func (h *harness) serviceAccountToken(t *testing.T, namespace, name string) string {
	t.Helper()
	ctx := context.Background()
	h.ensureNamespace(t, namespace)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	if _, err := h.cluster.Client.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	tr, err := h.cluster.Client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authv1.TokenRequest{
		Spec: authv1.TokenRequestSpec{Audiences: []string{"api://AzureADTokenExchange"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest: %v", err)
	}
	return tr.Status.Token
}

// tokensJSON is the csi.storage.k8s.io/serviceAccount.tokens attribute.
func tokensJSON(token string) string {
	b, _ := json.Marshal(map[string]any{"api://AzureADTokenExchange": map[string]string{
		"token": token, "expirationTimestamp": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
	}})
	return string(b)
}
