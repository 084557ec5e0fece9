package csi_test

import (
	"context"
	"encoding/json"
	"log/slog"
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

// TestCallLevels: with the logger at Info, as the chart runs it, publish and
// unpublish (the calls an operator traces a pod by) are logged, the probes
// kubelet and the liveness sidecar send every few seconds are not.
func TestCallLevels(t *testing.T) {
	logs := &syncBuffer{}
	e := startEnv(t, defaultClasses(), func(c *csi.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	ctx := context.Background()
	target := e.target("levels")
	if _, err := e.node.NodePublishVolume(ctx, publishReq(target)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.node.NodeUnpublishVolume(ctx, &csipb.NodeUnpublishVolumeRequest{VolumeId: "csi-0123456789abcdef", TargetPath: target}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.id.Probe(ctx, &csipb.ProbeRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.node.NodeGetCapabilities(ctx, &csipb.NodeGetCapabilitiesRequest{}); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	dec := json.NewDecoder(strings.NewReader(logs.String()))
	for dec.More() {
		var line struct{ Msg, Level, Method string }
		if err := dec.Decode(&line); err != nil {
			t.Fatalf("log line: %v\n%s", err, logs)
		}
		if line.Msg == "csi call" {
			got[line.Method] = line.Level
		}
	}
	want := map[string]string{
		"/csi.v1.Node/NodePublishVolume":   "INFO",
		"/csi.v1.Node/NodeUnpublishVolume": "INFO",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("csi calls logged at Info (-want +got):\n%s", diff)
	}
}
