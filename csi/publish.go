package csi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"

	"github.com/secretfs/secretfs/kube"
	"github.com/secretfs/secretfs/vault"
)

// providerAzure is the only spec.provider secretfs serves.
const providerAzure = "azure"

// publish runs the steps of NodePublishVolume. It returns the provider
// for the metrics label ("" until the class is known to be ours).
func (s *NodeServer) publish(ctx context.Context, req *csi.NodePublishVolumeRequest) (string, error) {
	r, err := validatePublish(req)
	if err != nil {
		return "", err
	}
	if !s.locks.tryLock(r.target) {
		return "", withCode(codes.Aborted, "operation pending for target %s", r.target)
	}
	defer s.locks.unlock(r.target)
	spc, err := s.findClass(r)
	if err != nil {
		return "", err
	}
	params, err := s.parseParams(ctx, r, spc)
	if err != nil {
		return providerAzure, err
	}
	creds, err := podCredentials(req, params)
	if err != nil {
		return providerAzure, err
	}
	if err := s.mount(ctx, r, params, creds); err != nil {
		return providerAzure, err
	}
	return providerAzure, s.record(r)
}

// findClass gets the SecretProviderClass from the pod's namespace. A
// missing one is FailedPrecondition: kubelet retries, and the event says
// what to create.
func (s *NodeServer) findClass(r publishRequest) (*kube.SecretProviderClass, error) {
	spc, err := s.classes.Get(r.pod.Namespace, r.className)
	switch {
	case errors.Is(err, kube.ErrNotFound):
		return nil, precondition("failed to get secretproviderclass %s: not found; create it in the pod's namespace %s", r.class(), r.pod.Namespace)
	case err != nil:
		return nil, withCode(codes.Unavailable, "failed to get secretproviderclass %s: %w", r.class(), err)
	case spc.Spec.Provider != providerAzure:
		return nil, precondition("secretproviderclass %s: spec.provider is %q; secretfs serves provider %q", r.class(), spc.Spec.Provider, providerAzure)
	}
	return spc, nil
}

// parseParams validates spec.parameters; the message names the object
// index and field. It runs under the target's lock, so it is bounded: a
// cloudEnvFileName is a small regular file in the allowed directory, read
// until kubelet's deadline (ctx) at the latest.
func (s *NodeServer) parseParams(ctx context.Context, r publishRequest, spc *kube.SecretProviderClass) (*vault.Params, error) {
	p, err := vault.ParseParameters(ctx, spc.Spec.Parameters, vault.ParseOptions{CloudEnvDir: s.cfg.CloudEnvDir})
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("secretproviderclass %s: spec.parameters: %w", r.class(), err)
	}
	if err != nil {
		return nil, invalidArg("secretproviderclass %s: spec.parameters: %w", r.class(), err)
	}
	return p, nil
}

// mount hands the request to the Mounter; its error keeps its vault class
// for codeOf and gains the class name.
func (s *NodeServer) mount(ctx context.Context, r publishRequest, p *vault.Params, c vault.PodCredentials) error {
	err := s.mounter.Mount(ctx, MountRequest{
		TargetPath: r.target, VolumeID: r.volumeID, Class: r.class(),
		Params: p, Creds: c, Pod: r.pod,
	})
	if err != nil {
		return fmt.Errorf("secretproviderclass %s: mount at %s: %w", r.class(), r.target, err)
	}
	return nil
}

// record writes the mount to the state file. A failure fails the call so
// kubelet retries; the retried Mount is a cheap republish.
func (s *NodeServer) record(r publishRequest) error {
	err := s.cfg.State.Put(Entry{
		TargetPath: r.target, VolumeID: r.volumeID, Class: r.class(),
		Pod: r.pod, Backend: s.cfg.Backend, Published: time.Now().UTC(),
	})
	if err != nil {
		return withCode(codes.Internal, "record mount of %s: %w", r.target, err)
	}
	return nil
}
