package csi_test

import (
	"context"
	"testing"

	"github.com/secretfs/secretfs/csi"
)

// BenchmarkRepublish measures kubelet's periodic republish of a mounted
// volume over the real unix socket, with a Mounter that returns at once:
// the node service's own cost (validation, class lookup, parameter
// parsing, sanitized logging, state write) per call.
func BenchmarkRepublish(b *testing.B) {
	e := startEnv(b, defaultClasses())
	req := publishReq(e.target("bench"))
	ctx := context.Background()
	if _, err := e.node.NodePublishVolume(ctx, req); err != nil { // connect, first publish
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := e.node.NodePublishVolume(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSanitize(b *testing.B) {
	req := publishReq("/t")
	req.VolumeContext["csi.storage.k8s.io/serviceAccount.tokens"] = tokensJSON(testToken)
	for b.Loop() {
		_ = csi.Sanitize(req)
	}
}
