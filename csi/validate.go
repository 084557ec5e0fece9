package csi

import (
	"errors"
	"path/filepath"

	"github.com/container-storage-interface/spec/lib/go/csi"
)

// ErrTargetUnusable is wrapped by a Mounter's error when the target path
// cannot take a volume: it is not a directory, or something secretfs did
// not mount is mounted there. codeOf answers FailedPrecondition: the node
// must change, not the request.
var ErrTargetUnusable = errors.New("target path unusable")

// publishRequest is a NodePublishVolume request that passed validation.
type publishRequest struct {
	volumeID  string
	target    string
	className string // the SecretProviderClass, in the pod's namespace
	pod       PodInfo
}

// class names the SecretProviderClass as namespace/name.
func (r publishRequest) class() string { return r.pod.Namespace + "/" + r.className }

// validatePublish checks the request before anything is touched; every
// refusal is InvalidArgument naming the field.
func validatePublish(req *csi.NodePublishVolumeRequest) (publishRequest, error) {
	if err := checkPublishLimits(req); err != nil {
		return publishRequest{}, err
	}
	r := publishRequest{volumeID: req.GetVolumeId(), target: req.GetTargetPath()}
	switch {
	case r.volumeID == "":
		return r, invalidArg("volume_id: missing")
	}
	var err error
	if r.target, err = validateTarget(req.GetTargetPath()); err != nil {
		return r, err
	}
	if err := validateCapability(req.GetVolumeCapability()); err != nil {
		return r, err
	}
	if !req.GetReadonly() {
		return r, invalidArg("readonly: secretfs volumes are read-only; set readOnly: true on the pod's csi volume")
	}
	vc := req.GetVolumeContext()
	r.className = vc[keyClass]
	if r.className == "" {
		return r, invalidArg("volume_context: %s missing; set volumeAttributes.%s to the SecretProviderClass name", keyClass, keyClass)
	}
	r.pod = PodInfo{Name: vc[keyPodName], Namespace: vc[keyPodNamespace], UID: vc[keyPodUID], ServiceAccount: vc[keyServiceAccount]}
	switch {
	case r.pod.Namespace == "":
		return r, invalidArg("volume_context: %s missing; the CSIDriver object needs podInfoOnMount: true", keyPodNamespace)
	case r.pod.Name == "":
		return r, invalidArg("volume_context: %s missing; the CSIDriver object needs podInfoOnMount: true", keyPodName)
	}
	return r, nil
}

// validateUnpublish checks a NodeUnpublishVolume request and returns its
// target path, clean.
func validateUnpublish(req *csi.NodeUnpublishVolumeRequest) (string, error) {
	if req.GetVolumeId() == "" {
		return "", invalidArg("volume_id: missing")
	}
	return validateTarget(req.GetTargetPath())
}

// validateTarget returns target in its clean form: "/x/t/" and "/x/t" are
// one target, with one lock, one mount and one state entry (the unclean
// variant stacked a second mount).
func validateTarget(target string) (string, error) {
	switch {
	case target == "":
		return "", invalidArg("target_path: missing")
	case !filepath.IsAbs(target):
		return "", invalidArg("target_path %q: must be an absolute path", target)
	}
	return filepath.Clean(target), nil
}

// validateCapability accepts a mount volume in a single-node mode or a
// read-only mode. Kubelet always sends SINGLE_NODE_WRITER for inline
// ephemeral volumes (it has no access mode to take from a PV), so a writer
// mode alone cannot be refused; readonly is what makes the mount read-only.
func validateCapability(vc *csi.VolumeCapability) error {
	switch {
	case vc == nil:
		return invalidArg("volume_capability: missing")
	case vc.GetBlock() != nil:
		return invalidArg("volume_capability: block access is not supported; secretfs serves files (access_type mount)")
	case vc.GetMount() == nil:
		return invalidArg("volume_capability.access_type: missing; must be mount")
	}
	switch mode := vc.GetAccessMode().GetMode(); mode {
	case csi.VolumeCapability_AccessMode_SINGLE_NODE_READER_ONLY,
		csi.VolumeCapability_AccessMode_MULTI_NODE_READER_ONLY,
		csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER,
		csi.VolumeCapability_AccessMode_SINGLE_NODE_SINGLE_WRITER,
		csi.VolumeCapability_AccessMode_SINGLE_NODE_MULTI_WRITER:
		return nil
	case csi.VolumeCapability_AccessMode_UNKNOWN:
		return invalidArg("volume_capability.access_mode: missing")
	default:
		return invalidArg("volume_capability.access_mode %s: multi-node writers are not supported; secretfs volumes are read-only", mode)
	}
}
