package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/secretfs/secretfs/csi"
	"github.com/secretfs/secretfs/fusefs"
	"github.com/secretfs/secretfs/fusefs/fusectl"
	"github.com/secretfs/secretfs/fusefs/keeper"
	"github.com/secretfs/secretfs/kube"
)

type constSource struct{}

func (constSource) Read(context.Context, string) ([]byte, error) { return []byte("x"), nil }

// TestForgetDeadMountsNeverWaitsOnAMount: at start, with the keeper's list
// unavailable, the node probes every FUSE mount of its state file; a kept
// mount whose server is away makes statfs wait for it. The search returns
// anyway: the dead mount is cleared and counted, the live one and the one
// that did not answer are left alone (kubelet's republish serves it).
func TestForgetDeadMountsNeverWaitsOnAMount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("mounting FUSE needs root: run the tests as root (make test and CI do)")
	}
	dir := t.TempDir()
	waiting, dead, live := mkdir(t, dir, "waiting"), mkdir(t, dir, "dead"), mkdir(t, dir, "live")

	// A kept mount nothing serves: its statfs waits for a server.
	k, err := keeper.Start(keeper.Config{Socket: filepath.Join(dir, "keeper.sock"), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() }) // ends the connection, and the statfs waiting on it
	f, _, err := keeper.NewClient(filepath.Join(dir, "keeper.sock")).Mount(waiting, "secretfs", nil)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, target := range []string{dead, live} {
		srv, err := fusefs.Mount(target, []fusefs.File{{Path: "f", Mode: 0o644}}, constSource{}, fusefs.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Unmount() })
	}
	dev, err := fusectl.MountDev(dead)
	if err != nil {
		t.Fatal(err)
	}
	if err := fusectl.Abort(dev); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(dead, syscall.MNT_DETACH) })

	state, err := csi.OpenState(filepath.Join(dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{waiting, dead, live} {
		if err := state.Put(csi.Entry{TargetPath: target, VolumeID: filepath.Base(target), Backend: "fuse", Pod: csi.PodInfo{Namespace: "ns", Name: filepath.Base(target)}}); err != nil {
			t.Fatal(err)
		}
	}
	var log syncBuffer
	counter := prometheus.NewCounter(prometheus.CounterOpts{Name: "dead"})
	events := kube.NewEvents(fake.NewClientset(), "node", slog.Default())
	done := make(chan struct{})
	go func() {
		defer close(done)
		forgetDeadMounts(state, nil, counter, events, slog.New(slog.NewTextHandler(&log, nil)))
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("forgetDeadMounts did not return within 2 minutes: start waits on a mount whose server is away")
	}
	if n := testutil.ToFloat64(counter); n != 1 {
		t.Errorf("dead mounts counted: %v, want 1", n)
	}
	for target, want := range map[string]bool{waiting: true, dead: false, live: true} {
		if got := isMounted(t, target); got != want {
			t.Errorf("%s mounted: %v, want %v", filepath.Base(target), got, want)
		}
	}
	if !strings.Contains(log.String(), "left for kubelet's republish") || !strings.Contains(log.String(), waiting) {
		t.Errorf("the log does not say the waiting mount was left for kubelet:\n%s", log.String())
	}
}

func mkdir(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}
