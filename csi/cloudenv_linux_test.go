package csi_test

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"

	"github.com/secretfs/secretfs/csi"
)

// TestPublishWithHostileCloudEnvFile: a class author points cloudEnvFileName
// at a FIFO (it used to block the publish forever, holding the target's
// lock, so every later call for the target was Aborted and the pod could
// never terminate), at a file outside the allowed directory, or uses a
// custom cloud on a node that allows none. Each publish answers
// InvalidArgument at once, and the target is free for the next call.
func TestPublishWithHostileCloudEnvFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "cloud.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	stack := func(file string) map[string]string {
		return map[string]string{"cloudName": "AzureStackCloud", "cloudEnvFileName": file}
	}
	classes := classMap{
		"app/fifo":   azureClass("app", "fifo", stack(fifo)),
		"app/shadow": azureClass("app", "shadow", stack("/etc/shadow")),
	}
	tests := []struct {
		name, class, allowed, says string
	}{
		{"FIFO", "fifo", dir, "not a regular file (a FIFO)"},
		{"outside the allowed directory", "shadow", dir, "outside " + dir},
		{"no allowed directory", "fifo", "", "--cloud-env-dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startEnv(t, classes, func(c *csi.Config) { c.CloudEnvDir = tt.allowed })
			target := e.target("a")
			req := publishReq(target)
			req.VolumeContext["secretProviderClass"] = tt.class
			for range 2 { // the second finds the target's lock free
				checkErr(t, publishWithin(t, e, req), wantErr{codes.InvalidArgument, tt.says})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := e.node.NodeUnpublishVolume(ctx, &csipb.NodeUnpublishVolumeRequest{VolumeId: req.VolumeId, TargetPath: target}); err != nil {
				t.Errorf("unpublish after the refused publish: %v", err)
			}
			if mounts, _ := e.mounter.calls(); len(mounts) != 0 {
				t.Errorf("Mounter called %d times, want 0", len(mounts))
			}
		})
	}
}

// publishWithin publishes and fails the test if the call does not return
// within a generous bound.
func publishWithin(t *testing.T, e *env, req *csipb.NodePublishVolumeRequest) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := e.node.NodePublishVolume(ctx, req)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(40 * time.Second):
		t.Fatal("NodePublishVolume did not return within 40s")
		return nil
	}
}
