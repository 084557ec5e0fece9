package csi_test

import (
	"context"
	"strings"
	"testing"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/secretfs/secretfs/csi"
)

func TestSanitize(t *testing.T) {
	req := publishReq("/t")
	req.VolumeContext["csi.storage.k8s.io/serviceAccount.tokens"] = tokensJSON(testToken)
	req.Secrets["csi.storage.k8s.io/serviceAccount.tokens"] = tokensJSON(testToken)
	orig := publishReq("/t")
	orig.VolumeContext["csi.storage.k8s.io/serviceAccount.tokens"] = tokensJSON(testToken)
	orig.Secrets["csi.storage.k8s.io/serviceAccount.tokens"] = tokensJSON(testToken)

	got := csi.Sanitize(req).(*csipb.NodePublishVolumeRequest)

	want := publishReq("/t")
	want.VolumeContext["csi.storage.k8s.io/serviceAccount.tokens"] = "***stripped***"
	want.Secrets = map[string]string{
		"clientid": "***stripped***", "clientsecret": "***stripped***",
		"csi.storage.k8s.io/serviceAccount.tokens": "***stripped***",
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("Sanitize (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(orig, req, protocmp.Transform()); diff != "" {
		t.Errorf("Sanitize changed its argument (-want +got):\n%s", diff)
	}
}

// TestLogsHoldNoSecrets drives successful and failing calls carrying a
// client secret and a token through the real server and its logger at
// Debug: the logs name the calls but hold neither value.
func TestLogsHoldNoSecrets(t *testing.T) {
	e := startEnv(t, defaultClasses())
	ctx := context.Background()
	calls := []func(*csipb.NodePublishVolumeRequest){
		func(*csipb.NodePublishVolumeRequest) {}, // succeeds
		func(r *csipb.NodePublishVolumeRequest) { r.Readonly = false },
		func(r *csipb.NodePublishVolumeRequest) { // no token for workload identity
			r.VolumeContext["secretProviderClass"] = "wi"
			delete(r.VolumeContext, "csi.storage.k8s.io/serviceAccount.tokens")
			delete(r.Secrets, "csi.storage.k8s.io/serviceAccount.tokens")
		},
		func(r *csipb.NodePublishVolumeRequest) { // malformed tokens
			r.VolumeContext["secretProviderClass"] = "wi"
			r.VolumeContext["csi.storage.k8s.io/serviceAccount.tokens"] = `{"api://AzureADTokenExchange":"` + testToken + `"}`
		},
	}
	for i, modify := range calls {
		req := publishReq(e.target("log"))
		req.VolumeContext["csi.storage.k8s.io/serviceAccount.tokens"] = tokensJSON(testToken)
		req.Secrets["csi.storage.k8s.io/serviceAccount.tokens"] = tokensJSON(testToken)
		modify(req)
		_, err := e.node.NodePublishVolume(ctx, req)
		if (err == nil) != (i == 0) {
			t.Fatalf("call %d: err = %v", i, err)
		}
	}
	if _, err := e.id.Probe(ctx, &csipb.ProbeRequest{}); err != nil {
		t.Fatal(err)
	}
	logs := e.logs.String()
	for _, secret := range []string{testClientSecret, testToken} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs hold %q:\n%s", secret, logs)
		}
	}
	for _, want := range []string{"/csi.v1.Node/NodePublishVolume", "/csi.v1.Identity/Probe", "***stripped***", "FailedPrecondition", `"secretProviderClass\":\"wi\"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}
