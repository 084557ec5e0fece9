package csi_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	"github.com/secretfs/secretfs/csi"
)

// TestUncleanTargetIsOneTarget: "/x/t/", "/x/t/." and "/x/t" are one
// target: the Mounter, the lock and the state all see the clean path (an
// unclean variant stacked a second mount and kept a second state entry).
func TestUncleanTargetIsOneTarget(t *testing.T) {
	e := startEnv(t, defaultClasses())
	target := e.target("slash")
	if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
		t.Fatal(err)
	}
	for _, variant := range []string{target + "/", target + "/.", target + "//", target} {
		if _, err := e.node.NodePublishVolume(context.Background(), publishReq(variant)); err != nil {
			t.Fatalf("publish %s: %v", variant, err)
		}
	}
	if _, err := e.node.NodeUnpublishVolume(context.Background(), &csipb.NodeUnpublishVolumeRequest{VolumeId: "v", TargetPath: target + "/"}); err != nil {
		t.Fatal(err)
	}
	mounts, unmounts := e.mounter.calls()
	var got []string
	for _, r := range mounts {
		got = append(got, r.TargetPath)
	}
	if diff := cmp.Diff([]string{target, target, target, target}, got); diff != "" {
		t.Errorf("targets the Mounter was asked to mount (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{target}, unmounts); diff != "" {
		t.Errorf("targets the Mounter was asked to unmount (-want +got):\n%s", diff)
	}
	if got := e.state.Entries(); len(got) != 0 {
		t.Errorf("state after unpublishing holds %v, want nothing", got)
	}
}

// TestTargetPathRefusals: a relative target path is refused before the
// Mounter sees it; a target the Mounter finds unusable is
// FailedPrecondition (the node must change, not the request).
func TestTargetPathRefusals(t *testing.T) {
	e := startEnv(t, defaultClasses())
	_, err := e.node.NodePublishVolume(context.Background(), publishReq("pods/x/mount"))
	checkErr(t, err, wantErr{codes.InvalidArgument, "target_path"})
	_, err = e.node.NodeUnpublishVolume(context.Background(), &csipb.NodeUnpublishVolumeRequest{VolumeId: "v", TargetPath: "pods/x/mount"})
	checkErr(t, err, wantErr{codes.InvalidArgument, "target_path"})

	target := e.target("file")
	e.mounter.setErr(fmt.Errorf("%w: %s is a regular file, not a directory", csi.ErrTargetUnusable, target))
	_, err = e.node.NodePublishVolume(context.Background(), publishReq(target))
	checkErr(t, err, wantErr{codes.FailedPrecondition, "not a directory"})
	if mounts, _ := e.mounter.calls(); len(mounts) != 0 {
		t.Errorf("the Mounter mounted %d times, want never", len(mounts)) // not %v: requests hold credentials
	}
}
