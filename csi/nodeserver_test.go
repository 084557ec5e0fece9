package csi_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/secretfs/secretfs/csi"
	"github.com/secretfs/secretfs/vault"
)

type wantErr struct {
	code codes.Code
	msg  string // a substring of the status message
}

func checkErr(t *testing.T, err error, want wantErr) {
	t.Helper()
	st := status.Convert(err)
	if diff := cmp.Diff(want.code, st.Code()); diff != "" {
		t.Errorf("code (-want +got):\n%s\nmessage: %s", diff, st.Message())
	}
	if !strings.Contains(st.Message(), want.msg) {
		t.Errorf("message %q does not contain %q", st.Message(), want.msg)
	}
}

// TestPublishRefusals sends every kind of bad request: each is refused
// with the right code and a message naming the field, before the Mounter
// is called.
func TestPublishRefusals(t *testing.T) {
	tests := []struct {
		name   string
		modify func(r *csipb.NodePublishVolumeRequest)
		want   wantErr
	}{
		{"no volume id", func(r *csipb.NodePublishVolumeRequest) { r.VolumeId = "" },
			wantErr{codes.InvalidArgument, "volume_id"}},
		{"no target path", func(r *csipb.NodePublishVolumeRequest) { r.TargetPath = "" },
			wantErr{codes.InvalidArgument, "target_path"}},
		{"no capability", func(r *csipb.NodePublishVolumeRequest) { r.VolumeCapability = nil },
			wantErr{codes.InvalidArgument, "volume_capability"}},
		{"block", func(r *csipb.NodePublishVolumeRequest) {
			r.VolumeCapability.AccessType = &csipb.VolumeCapability_Block{Block: &csipb.VolumeCapability_BlockVolume{}}
		}, wantErr{codes.InvalidArgument, "volume_capability: block"}},
		{"no access type", func(r *csipb.NodePublishVolumeRequest) { r.VolumeCapability.AccessType = nil },
			wantErr{codes.InvalidArgument, "volume_capability.access_type"}},
		{"no access mode", func(r *csipb.NodePublishVolumeRequest) { r.VolumeCapability.AccessMode = nil },
			wantErr{codes.InvalidArgument, "volume_capability.access_mode"}},
		{"multi node writer", func(r *csipb.NodePublishVolumeRequest) {
			r.VolumeCapability.AccessMode.Mode = csipb.VolumeCapability_AccessMode_MULTI_NODE_MULTI_WRITER
		}, wantErr{codes.InvalidArgument, "volume_capability.access_mode MULTI_NODE_MULTI_WRITER"}},
		{"not read-only", func(r *csipb.NodePublishVolumeRequest) { r.Readonly = false },
			wantErr{codes.InvalidArgument, "readonly"}},
		{"no class attribute", func(r *csipb.NodePublishVolumeRequest) { delete(r.VolumeContext, "secretProviderClass") },
			wantErr{codes.InvalidArgument, "secretProviderClass missing"}},
		{"no pod namespace", func(r *csipb.NodePublishVolumeRequest) { delete(r.VolumeContext, "csi.storage.k8s.io/pod.namespace") },
			wantErr{codes.InvalidArgument, "csi.storage.k8s.io/pod.namespace missing"}},
		{"no pod name", func(r *csipb.NodePublishVolumeRequest) { delete(r.VolumeContext, "csi.storage.k8s.io/pod.name") },
			wantErr{codes.InvalidArgument, "csi.storage.k8s.io/pod.name missing"}},
		{"class missing", func(r *csipb.NodePublishVolumeRequest) { r.VolumeContext["secretProviderClass"] = "nope" },
			wantErr{codes.FailedPrecondition, "failed to get secretproviderclass app/nope"}},
		{"class in another namespace", func(r *csipb.NodePublishVolumeRequest) {
			r.VolumeContext["csi.storage.k8s.io/pod.namespace"] = "other"
		}, wantErr{codes.FailedPrecondition, "failed to get secretproviderclass other/spc"}},
		{"other provider", func(r *csipb.NodePublishVolumeRequest) { r.VolumeContext["secretProviderClass"] = "vaultspc" },
			wantErr{codes.FailedPrecondition, `spec.provider is "vault"`}},
		{"bad parameters", func(r *csipb.NodePublishVolumeRequest) { r.VolumeContext["secretProviderClass"] = "bad" },
			wantErr{codes.InvalidArgument, "secretproviderclass app/bad: spec.parameters: objects[0]"}},
		{"no credentials", func(r *csipb.NodePublishVolumeRequest) { r.Secrets = nil },
			wantErr{codes.FailedPrecondition, "nodePublishSecretRef"}},
		{"no client secret", func(r *csipb.NodePublishVolumeRequest) { delete(r.Secrets, "clientsecret") },
			wantErr{codes.FailedPrecondition, "nodePublishSecretRef: key clientsecret missing"}},
		{"no client id", func(r *csipb.NodePublishVolumeRequest) { delete(r.Secrets, "clientid") },
			wantErr{codes.FailedPrecondition, "nodePublishSecretRef: key clientid missing"}},
		{"workload identity without token", func(r *csipb.NodePublishVolumeRequest) {
			r.VolumeContext["secretProviderClass"] = "wi"
		}, wantErr{codes.FailedPrecondition, "csi.storage.k8s.io/serviceAccount.tokens"}},
		{"workload identity, token for another audience", func(r *csipb.NodePublishVolumeRequest) {
			r.VolumeContext["secretProviderClass"] = "wi"
			r.VolumeContext["csi.storage.k8s.io/serviceAccount.tokens"] = `{"other":{"token":"` + testToken + `"}}`
		}, wantErr{codes.FailedPrecondition, "no token for audience api://AzureADTokenExchange"}},
	}
	e := startEnv(t, defaultClasses())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := publishReq(e.target(tt.name))
			tt.modify(req)
			_, err := e.node.NodePublishVolume(context.Background(), req)
			checkErr(t, err, tt.want)
			if strings.Contains(status.Convert(err).Message(), testToken) {
				t.Error("error message holds the service account token")
			}
		})
	}
	if mounts, _ := e.mounter.calls(); len(mounts) != 0 {
		t.Errorf("Mounter called %d times for refused requests", len(mounts))
	}
	if got := e.state.Entries(); len(got) != 0 {
		t.Errorf("state records refused requests: %v", got)
	}
}

// TestPublishAPIServerDown: an API server fault is Unavailable, so kubelet
// retries.
func TestPublishAPIServerDown(t *testing.T) {
	e := startEnv(t, errClasses{})
	_, err := e.node.NodePublishVolume(context.Background(), publishReq(e.target("p")))
	checkErr(t, err, wantErr{codes.Unavailable, "failed to get secretproviderclass app/spc: connection refused"})
}

// TestPublishMountErrors maps the Mounter's vault error classes to codes;
// the message names the class and keeps the object named by vault.
func TestPublishMountErrors(t *testing.T) {
	tests := []struct {
		class error
		want  codes.Code
	}{
		{vault.ErrAccessDenied, codes.PermissionDenied},
		{vault.ErrNotFound, codes.FailedPrecondition},
		{vault.ErrInvalid, codes.InvalidArgument},
		{vault.ErrThrottled, codes.Unavailable},
		{vault.ErrUnavailable, codes.Unavailable},
		{context.DeadlineExceeded, codes.DeadlineExceeded},
		{errors.New("disk on fire"), codes.Internal},
	}
	e := startEnv(t, defaultClasses())
	for _, tt := range tests {
		t.Run(tt.class.Error(), func(t *testing.T) {
			e.mounter.setErr(fmt.Errorf(`key vault "kv1": get secret "db-password": %w`, tt.class))
			target := e.target("err")
			_, err := e.node.NodePublishVolume(context.Background(), publishReq(target))
			checkErr(t, err, wantErr{tt.want, `secretproviderclass app/spc: mount at ` + target + `: key vault "kv1": get secret "db-password"`})
			if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("target after a failed publish: %v, want not exist", err)
			}
		})
	}
	if got := e.state.Entries(); len(got) != 0 {
		t.Errorf("state records failed publishes: %v", got)
	}
	for _, code := range []string{"PermissionDenied", "FailedPrecondition", "InvalidArgument", "Unavailable", "DeadlineExceeded", "Internal"} {
		if got := metricValue(t, e, "node_publish_error_total", map[string]string{"error_type": code}); got < 1 {
			t.Errorf("node_publish_error_total{error_type=%q} = %v, want ≥ 1", code, got)
		}
	}
}

// metricValue sums the counter name over the series matching labels.
func metricValue(t *testing.T, e *env, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue series
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// TestPublishRequest checks what reaches the Mounter and the state file
// for each identity mode.
func TestPublishRequest(t *testing.T) {
	e := startEnv(t, defaultClasses())
	pod := csi.PodInfo{Name: "web-0", Namespace: "app", UID: "uid-1", ServiceAccount: "web"}
	tests := []struct {
		name   string
		modify func(r *csipb.NodePublishVolumeRequest)
		class  string
		creds  vault.PodCredentials
	}{
		{"client secret", func(*csipb.NodePublishVolumeRequest) {}, "app/spc",
			vault.PodCredentials{ClientID: "client-1", ClientSecret: testClientSecret}},
		{"workload identity, token in context", func(r *csipb.NodePublishVolumeRequest) {
			r.VolumeContext["secretProviderClass"] = "wi"
			r.VolumeContext["csi.storage.k8s.io/serviceAccount.tokens"] = tokensJSON(testToken)
			r.Secrets = nil
		}, "app/wi", vault.PodCredentials{ServiceAccountToken: testToken}},
		{"workload identity, token in secrets", func(r *csipb.NodePublishVolumeRequest) {
			r.VolumeContext["secretProviderClass"] = "wi"
			r.Secrets = map[string]string{"csi.storage.k8s.io/serviceAccount.tokens": tokensJSON(testToken)}
		}, "app/wi", vault.PodCredentials{ServiceAccountToken: testToken}},
		{"node managed identity needs nothing", func(r *csipb.NodePublishVolumeRequest) {
			r.VolumeContext["secretProviderClass"] = "vmid"
			r.Secrets = nil
		}, "app/vmid", vault.PodCredentials{}},
		{"reader-only access mode", func(r *csipb.NodePublishVolumeRequest) {
			r.VolumeCapability.AccessMode.Mode = csipb.VolumeCapability_AccessMode_SINGLE_NODE_READER_ONLY
		}, "app/spc", vault.PodCredentials{ClientID: "client-1", ClientSecret: testClientSecret}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := e.target(fmt.Sprint(i))
			req := publishReq(target)
			tt.modify(req)
			if _, err := e.node.NodePublishVolume(context.Background(), req); err != nil {
				t.Fatalf("NodePublishVolume: %v", err)
			}
			mounts, _ := e.mounter.calls()
			got := mounts[len(mounts)-1]
			want := csi.MountRequest{TargetPath: target, VolumeID: req.VolumeId, Class: tt.class, Creds: tt.creds, Pod: pod}
			if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(csi.MountRequest{}, "Params")); diff != "" {
				t.Errorf("MountRequest (-want +got):\n%s", diff)
			}
			if got.Params == nil || got.Params.VaultName != "kv1" || len(got.Params.Objects) != 2 {
				t.Errorf("MountRequest.Params = %+v, want vault kv1 with 2 objects", got.Params)
			}
		})
	}
	loaded, err := csi.LoadState(e.dir + "/state/state.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != len(tests) {
		t.Errorf("state holds %d entries, want %d", len(loaded), len(tests))
	}
	if got := metricValue(t, e, "node_publish_total", map[string]string{"provider": "azure"}); got != float64(len(tests)) {
		t.Errorf("node_publish_total = %v, want %d", got, len(tests))
	}
}

// TestIdempotent: a republish (kubelet's periodic one, or a retry) and a
// repeated unpublish succeed, and the state holds one entry per target.
func TestIdempotent(t *testing.T) {
	e := startEnv(t, defaultClasses())
	ctx := context.Background()
	target := e.target("idem")
	for i := range 3 {
		if _, err := e.node.NodePublishVolume(ctx, publishReq(target)); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	if got := e.state.Entries(); len(got) != 1 || got[0].TargetPath != target {
		t.Errorf("state after 3 publishes = %+v, want one entry for %s", got, target)
	}
	unpub := &csipb.NodeUnpublishVolumeRequest{VolumeId: "csi-0123456789abcdef", TargetPath: target}
	for i := range 2 {
		if _, err := e.node.NodeUnpublishVolume(ctx, unpub); err != nil {
			t.Fatalf("unpublish %d: %v", i, err)
		}
	}
	if got := e.state.Entries(); len(got) != 0 {
		t.Errorf("state after unpublish = %+v, want empty", got)
	}
	if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("target after unpublish: %v, want not exist", err)
	}
	mounts, unmounts := e.mounter.calls()
	if len(mounts) != 3 || len(unmounts) != 2 {
		t.Errorf("Mounter saw %d mounts and %d unmounts, want 3 and 2", len(mounts), len(unmounts))
	}
}

// TestUnpublishFailure: a failed unmount is Internal and the state keeps
// the entry, so a restarted node still knows to clean the target.
func TestUnpublishFailure(t *testing.T) {
	e := startEnv(t, defaultClasses())
	target := e.target("stuck")
	if _, err := e.node.NodePublishVolume(context.Background(), publishReq(target)); err != nil {
		t.Fatal(err)
	}
	e.mounter.mu.Lock()
	e.mounter.unmntErr = errors.New("device or resource busy")
	e.mounter.mu.Unlock()
	_, err := e.node.NodeUnpublishVolume(context.Background(), &csipb.NodeUnpublishVolumeRequest{VolumeId: "v", TargetPath: target})
	checkErr(t, err, wantErr{codes.Internal, "unmount " + target + ": device or resource busy"})
	if got := e.state.Entries(); len(got) != 1 {
		t.Errorf("state after a failed unpublish holds %d entries, want 1", len(got))
	}
	if got := metricValue(t, e, "node_unpublish_error_total", nil); got != 1 {
		t.Errorf("node_unpublish_error_total = %v, want 1", got)
	}
}

func TestUnpublishRefusals(t *testing.T) {
	tests := []struct {
		name string
		req  *csipb.NodeUnpublishVolumeRequest
		want wantErr
	}{
		{"no volume id", &csipb.NodeUnpublishVolumeRequest{TargetPath: "/x"}, wantErr{codes.InvalidArgument, "volume_id"}},
		{"no target path", &csipb.NodeUnpublishVolumeRequest{VolumeId: "v"}, wantErr{codes.InvalidArgument, "target_path"}},
	}
	e := startEnv(t, defaultClasses())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.node.NodeUnpublishVolume(context.Background(), tt.req)
			checkErr(t, err, tt.want)
		})
	}
}

// TestPerTargetLock: while a publish of target A is in the Mounter, a
// second publish or an unpublish of A is Aborted, and target B proceeds.
func TestPerTargetLock(t *testing.T) {
	e := startEnv(t, defaultClasses())
	a, b := e.target("a"), e.target("b")
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.mounter.setGate(func(_ context.Context, target string) {
		if target == a {
			once.Do(func() {
				close(entered)
				<-release
			})
		}
	})
	ctx := context.Background()
	first := make(chan error, 1)
	go func() {
		_, err := e.node.NodePublishVolume(ctx, publishReq(a))
		first <- err
	}()
	<-entered

	_, err := e.node.NodePublishVolume(ctx, publishReq(a))
	checkErr(t, err, wantErr{codes.Aborted, "operation pending for target " + a})
	_, err = e.node.NodeUnpublishVolume(ctx, &csipb.NodeUnpublishVolumeRequest{VolumeId: "v", TargetPath: a})
	checkErr(t, err, wantErr{codes.Aborted, "operation pending for target " + a})
	if _, err := e.node.NodePublishVolume(ctx, publishReq(b)); err != nil {
		t.Errorf("publish of another target while A is pending: %v", err)
	}

	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first publish: %v", err)
	}
	if _, err := e.node.NodePublishVolume(ctx, publishReq(a)); err != nil {
		t.Errorf("publish after the pending one finished: %v", err)
	}
}

func TestIdentity(t *testing.T) {
	ready := false
	e := startEnv(t, defaultClasses(), func(c *csi.Config) { c.Ready = func() bool { return ready } })
	ctx := context.Background()
	info, err := e.id.GetPluginInfo(ctx, &csipb.GetPluginInfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{csi.DefaultDriverName, "v0.0.1-test"}, []string{info.GetName(), info.GetVendorVersion()}); diff != "" {
		t.Errorf("GetPluginInfo (-want +got):\n%s", diff)
	}
	for _, want := range []bool{false, true} {
		ready = want
		p, err := e.id.Probe(ctx, &csipb.ProbeRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.GetReady().GetValue(); got != want {
			t.Errorf("Probe ready = %v, want %v", got, want)
		}
	}
	ni, err := e.node.NodeGetInfo(ctx, &csipb.NodeGetInfoRequest{})
	if err != nil || ni.GetNodeId() != "node-1" {
		t.Errorf("NodeGetInfo = %v, %v; want node-1", ni, err)
	}
	_, err = e.node.NodeStageVolume(ctx, &csipb.NodeStageVolumeRequest{})
	checkErr(t, err, wantErr{codes.Unimplemented, "NodeStageVolume"})
}

// TestServeStopsOnCancel: Serve returns once its context ends, removing
// the socket, and a new Serve replaces a stale socket file.
func TestServeStopsOnCancel(t *testing.T) {
	dir, err := os.MkdirTemp("", "csi")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := dir + "/csi.sock"
	stale, err := csi.Listen("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	// Leave the socket file behind, as a killed process does.
	stale.(interface{ SetUnlinkOnClose(bool) }).SetUnlinkOnClose(false)
	stale.Close()

	srv := csi.NewNodeServer(csi.Config{}, defaultClasses(), &stubMounter{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, "unix://"+sock) }()
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := csipb.NewIdentityClient(conn).Probe(ctx, &csipb.ProbeRequest{}, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("Probe over the replaced socket: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after Serve returned: %v, want removed", err)
	}
}

func TestListenRefusesNonSocket(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/not-a-socket"
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := csi.Listen("unix://" + path); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen over a regular file: %v, want a 'not a socket' error", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("regular file removed: %v", err)
	}
	if _, err := csi.Listen("tcp://127.0.0.1:0"); err == nil {
		t.Error("Listen on tcp succeeded, want an error")
	}
}
