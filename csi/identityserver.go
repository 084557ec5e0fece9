package csi

import (
	"context"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// GetPluginInfo reports the driver name kubelet registers us under.
func (s *NodeServer) GetPluginInfo(context.Context, *csi.GetPluginInfoRequest) (*csi.GetPluginInfoResponse, error) {
	return &csi.GetPluginInfoResponse{Name: s.cfg.DriverName, VendorVersion: s.cfg.Version}, nil
}

// GetPluginCapabilities reports none: a node-only driver has no controller
// service and no topology.
func (s *NodeServer) GetPluginCapabilities(context.Context, *csi.GetPluginCapabilitiesRequest) (*csi.GetPluginCapabilitiesResponse, error) {
	return &csi.GetPluginCapabilitiesResponse{}, nil
}

// Probe reports ready once the server is serving and Config.Ready agrees,
// so the liveness probe does not pass before the node can mount.
func (s *NodeServer) Probe(context.Context, *csi.ProbeRequest) (*csi.ProbeResponse, error) {
	ready := s.serving.Load() && (s.cfg.Ready == nil || s.cfg.Ready())
	return &csi.ProbeResponse{Ready: wrapperspb.Bool(ready)}, nil
}
