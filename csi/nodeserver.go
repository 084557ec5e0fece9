package csi

import (
	"context"
	"fmt"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
)

// NodeGetInfo reports the node ID; volumes are not attached, so there is
// no volume limit and no topology.
func (s *NodeServer) NodeGetInfo(context.Context, *csi.NodeGetInfoRequest) (*csi.NodeGetInfoResponse, error) {
	return &csi.NodeGetInfoResponse{NodeId: s.cfg.NodeID}, nil
}

// NodeGetCapabilities reports none: no staging, no stats, no expansion.
func (s *NodeServer) NodeGetCapabilities(context.Context, *csi.NodeGetCapabilitiesRequest) (*csi.NodeGetCapabilitiesResponse, error) {
	return &csi.NodeGetCapabilitiesResponse{}, nil
}

// NodePublishVolume mounts the objects of the pod's SecretProviderClass
// at the target path; see publish for the steps.
func (s *NodeServer) NodePublishVolume(ctx context.Context, req *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	start := time.Now()
	provider, err := s.publish(ctx, req)
	s.metrics.publishDone(start, provider, err)
	if err != nil {
		return nil, toStatus(err)
	}
	return &csi.NodePublishVolumeResponse{}, nil
}

// NodeUnpublishVolume unmounts the target and forgets it; an unknown
// target is already unpublished.
func (s *NodeServer) NodeUnpublishVolume(ctx context.Context, req *csi.NodeUnpublishVolumeRequest) (*csi.NodeUnpublishVolumeResponse, error) {
	start := time.Now()
	err := s.unpublish(ctx, req)
	s.metrics.unpublishDone(start, err)
	if err != nil {
		return nil, toStatus(err)
	}
	return &csi.NodeUnpublishVolumeResponse{}, nil
}

func (s *NodeServer) unpublish(ctx context.Context, req *csi.NodeUnpublishVolumeRequest) error {
	if err := checkUnpublishLimits(req); err != nil {
		return err
	}
	target, err := validateUnpublish(req)
	if err != nil {
		return err
	}
	if !s.locks.tryLock(target) {
		return withCode(codes.Aborted, "operation pending for target %s", target)
	}
	defer s.locks.unlock(target)
	if err := s.mounter.Unmount(ctx, target); err != nil {
		return fmt.Errorf("unmount %s: %w", target, err) // codeOf: Internal, or the context's code
	}
	if err := s.cfg.State.Remove(target); err != nil {
		return withCode(codes.Internal, "forget %s: %w", target, err)
	}
	return nil
}
