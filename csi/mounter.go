package csi

import (
	"context"

	"github.com/secretfs/secretfs/kube"
	"github.com/secretfs/secretfs/vault"
)

// PodInfo identifies the pod a volume is published for, from the
// csi.storage.k8s.io/* volume attributes kubelet adds.
type PodInfo struct {
	Name           string `json:"name"`
	Namespace      string `json:"namespace"`
	UID            string `json:"uid,omitempty"`
	ServiceAccount string `json:"serviceAccount,omitempty"`
}

// MountRequest is a validated NodePublishVolume, ready to mount.
type MountRequest struct {
	TargetPath, VolumeID string
	Class                string // "namespace/name" of the SecretProviderClass, for messages
	Params               *vault.Params
	Creds                vault.PodCredentials // secret: never log or store
	Pod                  PodInfo
}

// Mounter does the mounting; package volume implements it (a FUSE or a
// files backend). The node service serializes calls per target, so an
// implementation sees at most one call at a time for a target path.
type Mounter interface {
	// Mount fetches every object and mounts them at r.TargetPath, leaving
	// the target as it was on failure. It is idempotent for the same
	// target: a republish refreshes the credentials (a new service account
	// token) and returns fast while the cache is fresh. Errors wrap the
	// vault.Err* classes.
	Mount(ctx context.Context, r MountRequest) error
	// Unmount unmounts targetPath (also a dead FUSE mount, ENOTCONN) and
	// removes the directory if the Mounter created it; a directory, file
	// or someone else's mount that was there before stays. An unknown
	// target is not an error. Errors wrapping ErrTargetUnusable (from
	// Mount) are answered FailedPrecondition.
	Unmount(ctx context.Context, targetPath string) error
}

// ClassGetter finds SecretProviderClasses; *kube.Classes implements it.
type ClassGetter interface {
	// Get returns namespace/name; a missing class wraps kube.ErrNotFound.
	Get(namespace, name string) (*kube.SecretProviderClass, error)
}

var _ ClassGetter = (*kube.Classes)(nil)
