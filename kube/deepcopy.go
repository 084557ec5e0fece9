package kube

import "k8s.io/apimachinery/pkg/runtime"

// The DeepCopy functions are hand-written (no code generator in the build):
// informer caches hand out shared pointers, so callers that keep or modify
// an object must copy it, and runtime.Object requires DeepCopyObject.

var (
	_ runtime.Object = (*SecretProviderClass)(nil)
	_ runtime.Object = (*SecretProviderClassList)(nil)
	_ runtime.Object = (*SecretProviderClassPodStatus)(nil)
	_ runtime.Object = (*SecretProviderClassPodStatusList)(nil)
)

// DeepCopy returns a copy of in sharing no memory with it.
func (in *SecretProviderClass) DeepCopy() *SecretProviderClass {
	if in == nil {
		return nil
	}
	out := &SecretProviderClass{TypeMeta: in.TypeMeta}
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Spec = *in.Spec.DeepCopy()
	out.Status = *in.Status.DeepCopy()
	return out
}

// DeepCopyObject implements runtime.Object.
func (in *SecretProviderClass) DeepCopyObject() runtime.Object { return in.DeepCopy() }

// DeepCopy returns a copy of in sharing no memory with it.
func (in *SecretProviderClassSpec) DeepCopy() *SecretProviderClassSpec {
	if in == nil {
		return nil
	}
	out := &SecretProviderClassSpec{Provider: in.Provider, Parameters: copyMap(in.Parameters)}
	if in.SecretObjects != nil {
		out.SecretObjects = make([]*SecretObject, len(in.SecretObjects))
		for i, o := range in.SecretObjects {
			out.SecretObjects[i] = o.DeepCopy()
		}
	}
	return out
}

// DeepCopy returns a copy of in sharing no memory with it.
func (in *SecretObject) DeepCopy() *SecretObject {
	if in == nil {
		return nil
	}
	out := &SecretObject{
		SecretName:  in.SecretName,
		Type:        in.Type,
		Labels:      copyMap(in.Labels),
		Annotations: copyMap(in.Annotations),
	}
	if in.Data != nil {
		out.Data = make([]*SecretObjectData, len(in.Data))
		for i, d := range in.Data {
			if d != nil {
				c := *d
				out.Data[i] = &c
			}
		}
	}
	return out
}

// DeepCopy returns a copy of in sharing no memory with it.
func (in *SecretProviderClassStatus) DeepCopy() *SecretProviderClassStatus {
	if in == nil {
		return nil
	}
	out := &SecretProviderClassStatus{}
	if in.ByPod != nil {
		out.ByPod = make([]*ByPodStatus, len(in.ByPod))
		for i, b := range in.ByPod {
			if b != nil {
				c := *b
				out.ByPod[i] = &c
			}
		}
	}
	return out
}

// DeepCopy returns a copy of in sharing no memory with it.
func (in *SecretProviderClassList) DeepCopy() *SecretProviderClassList {
	if in == nil {
		return nil
	}
	out := &SecretProviderClassList{TypeMeta: in.TypeMeta}
	in.ListMeta.DeepCopyInto(&out.ListMeta)
	if in.Items != nil {
		out.Items = make([]SecretProviderClass, len(in.Items))
		for i := range in.Items {
			out.Items[i] = *in.Items[i].DeepCopy()
		}
	}
	return out
}

// DeepCopyObject implements runtime.Object.
func (in *SecretProviderClassList) DeepCopyObject() runtime.Object { return in.DeepCopy() }

// DeepCopy returns a copy of in sharing no memory with it.
func (in *SecretProviderClassPodStatus) DeepCopy() *SecretProviderClassPodStatus {
	if in == nil {
		return nil
	}
	out := &SecretProviderClassPodStatus{TypeMeta: in.TypeMeta, Status: in.Status}
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	if in.Status.Objects != nil {
		out.Status.Objects = append([]SecretProviderClassObject(nil), in.Status.Objects...)
	}
	return out
}

// DeepCopyObject implements runtime.Object.
func (in *SecretProviderClassPodStatus) DeepCopyObject() runtime.Object { return in.DeepCopy() }

// DeepCopy returns a copy of in sharing no memory with it.
func (in *SecretProviderClassPodStatusList) DeepCopy() *SecretProviderClassPodStatusList {
	if in == nil {
		return nil
	}
	out := &SecretProviderClassPodStatusList{TypeMeta: in.TypeMeta}
	in.ListMeta.DeepCopyInto(&out.ListMeta)
	if in.Items != nil {
		out.Items = make([]SecretProviderClassPodStatus, len(in.Items))
		for i := range in.Items {
			out.Items[i] = *in.Items[i].DeepCopy()
		}
	}
	return out
}

// DeepCopyObject implements runtime.Object.
func (in *SecretProviderClassPodStatusList) DeepCopyObject() runtime.Object { return in.DeepCopy() }

func copyMap(in map[string]string) map[string]string {
	if in == nil {
		return nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}
