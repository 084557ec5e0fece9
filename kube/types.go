package kube

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of the Secrets Store CSI Driver CRDs.
const GroupName = "secrets-store.csi.x-k8s.io"

// GroupVersion is the served version secretfs reads and writes.
var GroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1"}

// Resource names as they appear in URLs.
const (
	ClassResource     = "secretproviderclasses"
	PodStatusResource = "secretproviderclasspodstatuses"
)

// SecretProviderClass names a provider and its parameters; pods refer to it
// through the volume attribute secretProviderClass.
type SecretProviderClass struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   SecretProviderClassSpec   `json:"spec,omitempty"`
	Status SecretProviderClassStatus `json:"status,omitempty"`
}

// SecretProviderClassSpec is what users write: the provider ("azure" for
// secretfs), its parameters and the Kubernetes Secrets to sync.
type SecretProviderClassSpec struct {
	Provider      string            `json:"provider,omitempty"`
	Parameters    map[string]string `json:"parameters,omitempty"`
	SecretObjects []*SecretObject   `json:"secretObjects,omitempty"`
}

// SecretObject describes a Kubernetes Secret kept in sync with mounted objects.
type SecretObject struct {
	SecretName  string              `json:"secretName,omitempty"`
	Type        string              `json:"type,omitempty"`
	Labels      map[string]string   `json:"labels,omitempty"`
	Annotations map[string]string   `json:"annotations,omitempty"`
	Data        []*SecretObjectData `json:"data,omitempty"`
}

// SecretObjectData maps one mounted object (by file name) to a Secret key.
type SecretObjectData struct {
	ObjectName string `json:"objectName,omitempty"`
	Key        string `json:"key,omitempty"`
}

// SecretProviderClassStatus is kept for schema compatibility; upstream
// stopped writing it (status lives in SecretProviderClassPodStatus).
type SecretProviderClassStatus struct {
	ByPod []*ByPodStatus `json:"byPod,omitempty"`
}

// ByPodStatus is the deprecated per-pod entry of SecretProviderClassStatus.
type ByPodStatus struct {
	ID        string `json:"id,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// SecretProviderClassList is a list of SecretProviderClasses.
type SecretProviderClassList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SecretProviderClass `json:"items"`
}

// SecretProviderClassPodStatus records what is mounted for one pod and one
// class; upstream names it "<pod>-<namespace>-<spc>".
type SecretProviderClassPodStatus struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Status SecretProviderClassPodStatusStatus `json:"status,omitempty"`
}

// SecretProviderClassPodStatusStatus is the mount record of a pod.
type SecretProviderClassPodStatusStatus struct {
	PodName                 string                      `json:"podName,omitempty"`
	SecretProviderClassName string                      `json:"secretProviderClassName,omitempty"`
	Mounted                 bool                        `json:"mounted,omitempty"`
	TargetPath              string                      `json:"targetPath,omitempty"`
	Objects                 []SecretProviderClassObject `json:"objects,omitempty"`
}

// SecretProviderClassObject is one mounted object and the version served.
type SecretProviderClassObject struct {
	ID      string `json:"id,omitempty"`
	Version string `json:"version,omitempty"`
}

// SecretProviderClassPodStatusList is a list of SecretProviderClassPodStatuses.
type SecretProviderClassPodStatusList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SecretProviderClassPodStatus `json:"items"`
}

// AddToScheme registers the types of this package in s, so that any client
// built on s can decode them.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&SecretProviderClass{}, &SecretProviderClassList{},
		&SecretProviderClassPodStatus{}, &SecretProviderClassPodStatusList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
