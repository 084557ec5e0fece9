package csi_test

import (
	"context"
	"strings"
	"testing"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestPublishLimits sends requests with one string beyond what kubelet can
// send: each is InvalidArgument naming the field, before the Mounter or
// the state file sees it, and neither the message nor the logs carry the
// oversized value.
func TestPublishLimits(t *testing.T) {
	huge := strings.Repeat("a", 3<<20) // the 3 MB pod name
	big := strings.Repeat("x", 64<<10+1)
	setVC := func(k, v string) func(*csipb.NodePublishVolumeRequest) {
		return func(r *csipb.NodePublishVolumeRequest) { r.VolumeContext[k] = v }
	}
	tests := []struct {
		name   string
		modify func(*csipb.NodePublishVolumeRequest)
		want   string
	}{
		{"3 MB pod name", setVC("csi.storage.k8s.io/pod.name", huge), "volume_context: csi.storage.k8s.io/pod.name"},
		{"pod name 254 bytes", setVC("csi.storage.k8s.io/pod.name", strings.Repeat("a", 254)), "csi.storage.k8s.io/pod.name"},
		{"pod name with newline", setVC("csi.storage.k8s.io/pod.name", "web\nlevel=ERROR msg=forged"), "csi.storage.k8s.io/pod.name"},
		{"pod name upper case", setVC("csi.storage.k8s.io/pod.name", "Web-0"), "csi.storage.k8s.io/pod.name"},
		{"namespace 64 bytes", setVC("csi.storage.k8s.io/pod.namespace", strings.Repeat("n", 64)), "csi.storage.k8s.io/pod.namespace"},
		{"namespace with dot", setVC("csi.storage.k8s.io/pod.namespace", "a.b"), "csi.storage.k8s.io/pod.namespace"},
		{"service account 254 bytes", setVC("csi.storage.k8s.io/serviceAccount.name", strings.Repeat("s", 254)), "csi.storage.k8s.io/serviceAccount.name"},
		{"pod uid 129 bytes", setVC("csi.storage.k8s.io/pod.uid", strings.Repeat("u", 129)), "csi.storage.k8s.io/pod.uid"},
		{"pod uid with slash", setVC("csi.storage.k8s.io/pod.uid", "../etc"), "csi.storage.k8s.io/pod.uid"},
		{"class path", setVC("secretProviderClass", "../spc"), "volume_context: secretProviderClass"},
		{"class 254 bytes", setVC("secretProviderClass", strings.Repeat("c", 254)), "volume_context: secretProviderClass"},
		{"volume id 129 bytes", func(r *csipb.NodePublishVolumeRequest) { r.VolumeId = strings.Repeat("v", 129) }, "volume_id: 129 bytes"},
		{"volume id 3 MB", func(r *csipb.NodePublishVolumeRequest) { r.VolumeId = huge }, "volume_id"},
		{"volume id with newline", func(r *csipb.NodePublishVolumeRequest) { r.VolumeId = "csi-1\nforged" }, "volume_id"},
		{"target path beyond PATH_MAX", func(r *csipb.NodePublishVolumeRequest) { r.TargetPath = "/" + strings.Repeat("t", 4096) }, "target_path: 4097 bytes"},
		{"target path with newline", func(r *csipb.NodePublishVolumeRequest) { r.TargetPath += "\nforged" }, "target_path"},
		{"other context value", setVC("extra", big), "volume_context: extra is 65537 bytes"},
		{"context key", setVC(strings.Repeat("k", 513), "v"), "volume_context: a key of 513 bytes"},
		{"context key with ESC", setVC("k\x1b[2J", "v"), `volume_context: key "k\x1b[2J"`},
		{"tokens", setVC("csi.storage.k8s.io/serviceAccount.tokens", `{"api://AzureADTokenExchange":{"token":"`+big+`"}}`),
			"volume_context: csi.storage.k8s.io/serviceAccount.tokens is"},
		{"client secret", func(r *csipb.NodePublishVolumeRequest) { r.Secrets["clientsecret"] = big }, "secrets: clientsecret is 65537 bytes"},
		{"whole request", func(r *csipb.NodePublishVolumeRequest) {
			for _, k := range []string{"a", "b", "c", "d", "e"} {
				r.VolumeContext[k] = big[:60<<10]
			}
		}, "request is"},
	}
	e := startEnv(t, defaultClasses())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := publishReq(e.target("limits"))
			tt.modify(req)
			_, err := e.node.NodePublishVolume(context.Background(), req)
			checkErr(t, err, wantErr{codes.InvalidArgument, tt.want})
			if msg := status.Convert(err).Message(); len(msg) > 1024 || strings.ContainsAny(msg, "\n\x1b") {
				t.Errorf("message of %d bytes, or with a raw control character: %.300q", len(msg), msg)
			}
		})
	}
	if mounts, _ := e.mounter.calls(); len(mounts) != 0 {
		t.Errorf("Mounter called %d times for refused requests", len(mounts))
	}
	if got := e.state.Entries(); len(got) != 0 {
		t.Errorf("state records refused requests: %v", got)
	}
	logs := e.logs.String()
	if strings.Contains(logs, big[:9<<10]) {
		t.Errorf("logs hold an oversized value whole (%d bytes of logs)", len(logs))
	}
	if n := len(logs); n > len(tests)*12<<10 {
		t.Errorf("logs of %d refused calls are %d bytes, want each line bounded", len(tests), n)
	}
}

// TestPublishAtLimits: values at the limits kubelet can reach are served.
func TestPublishAtLimits(t *testing.T) {
	e := startEnv(t, defaultClasses())
	req := publishReq(e.target("at-limits"))
	req.VolumeId = "csi-" + strings.Repeat("0123456789abcdef", 8)[:124]
	req.VolumeContext["csi.storage.k8s.io/pod.name"] = strings.Repeat("p", 253)
	req.VolumeContext["csi.storage.k8s.io/serviceAccount.name"] = "sa.with-dots"
	req.VolumeContext["csi.storage.k8s.io/pod.uid"] = "6f1b1c3e-1d2a-4c5b-9e8f-0a1b2c3d4e5f"
	req.VolumeContext["extra"] = strings.Repeat("x", 64<<10)
	req.VolumeContext["csi.storage.k8s.io/pod.namespace"] = "app"
	if _, err := e.node.NodePublishVolume(context.Background(), req); err != nil {
		t.Fatalf("publish at the limits: %v", err)
	}
}

func TestUnpublishLimits(t *testing.T) {
	tests := []struct {
		name string
		req  *csipb.NodeUnpublishVolumeRequest
		want string
	}{
		{"volume id 129 bytes", &csipb.NodeUnpublishVolumeRequest{VolumeId: strings.Repeat("v", 129), TargetPath: "/x"}, "volume_id: 129 bytes"},
		{"target path beyond PATH_MAX", &csipb.NodeUnpublishVolumeRequest{VolumeId: "v", TargetPath: "/" + strings.Repeat("t", 3<<20)}, "target_path: 3145729 bytes"},
	}
	e := startEnv(t, defaultClasses())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.node.NodeUnpublishVolume(context.Background(), tt.req)
			checkErr(t, err, wantErr{codes.InvalidArgument, tt.want})
		})
	}
	if _, unmounts := e.mounter.calls(); len(unmounts) != 0 {
		t.Errorf("Mounter.Unmount called %d times for refused requests", len(unmounts))
	}
}
