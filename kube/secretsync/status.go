package secretsync

import (
	"context"
	"fmt"
	"reflect"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/secretfs/secretfs/kube"
	"github.com/secretfs/secretfs/vault"
)

// NodeLabel names the node a SecretProviderClassPodStatus belongs to
// (upstream's label; its controllers select on it).
const NodeLabel = "internal.secrets-store.csi.k8s.io/node-name"

// fileLister is the part of *volume.Volume that lists its files.
type fileLister interface{ Files() []vault.File }

// StatusName is the name upstream gives the status of pod's volume of class.
func StatusName(pod, namespace, class string) string { return pod + "-" + namespace + "-" + class }

// ObjectID is the id upstream's Azure provider reports for a file in the
// status: "<objectType>/<objectName>", plus "/<index>" for a history file.
func ObjectID(f vault.File) string {
	id := string(f.Object.Type) + "/" + f.Object.Name
	if f.History >= 0 {
		id += "/" + strconv.Itoa(f.History)
	}
	return id
}

// syncStatus creates or updates the pod's SecretProviderClassPodStatus and
// reports whether the object versions it lists changed.
func (w *Writer) syncStatus(ctx context.Context, s snapshot) (bool, error) {
	want := w.desiredStatus(ctx, s)
	cur := &kube.SecretProviderClassPodStatus{}
	err := w.statuses.Get().Namespace(want.Namespace).Resource(kube.PodStatusResource).Name(want.Name).Do(ctx).Into(cur)
	if apierrors.IsNotFound(err) {
		err = w.statuses.Post().Namespace(want.Namespace).Resource(kube.PodStatusResource).Body(want).Do(ctx).Error()
		if err != nil {
			return false, fmt.Errorf("creating SecretProviderClassPodStatus %s/%s: %w", want.Namespace, want.Name, err)
		}
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading SecretProviderClassPodStatus %s/%s: %w", want.Namespace, want.Name, err)
	}
	versionsChanged := !reflect.DeepEqual(cur.Status.Objects, want.Status.Objects)
	if !versionsChanged && reflect.DeepEqual(cur.Status, want.Status) && cur.Labels[NodeLabel] == w.opts.NodeName {
		return false, nil
	}
	next := cur.DeepCopy()
	next.Status = want.Status
	if next.Labels == nil {
		next.Labels = map[string]string{}
	}
	next.Labels[NodeLabel] = w.opts.NodeName
	err = w.statuses.Put().Namespace(want.Namespace).Resource(kube.PodStatusResource).Name(want.Name).Body(next).Do(ctx).Error()
	if err != nil {
		return false, fmt.Errorf("updating SecretProviderClassPodStatus %s/%s: %w", want.Namespace, want.Name, err)
	}
	return versionsChanged, nil
}

func (w *Writer) desiredStatus(ctx context.Context, s snapshot) *kube.SecretProviderClassPodStatus {
	_, class := splitClass(s.class)
	st := &kube.SecretProviderClassPodStatus{
		TypeMeta: metav1.TypeMeta{APIVersion: kube.GroupVersion.String(), Kind: "SecretProviderClassPodStatus"},
		ObjectMeta: metav1.ObjectMeta{
			Name: StatusName(s.pod.Name, s.pod.Namespace, class), Namespace: s.pod.Namespace,
			Labels:          map[string]string{NodeLabel: w.opts.NodeName},
			OwnerReferences: []metav1.OwnerReference{podOwner(s)},
		},
		Status: kube.SecretProviderClassPodStatusStatus{
			PodName: s.pod.Name, SecretProviderClassName: class, Mounted: true, TargetPath: s.target,
		},
	}
	files, ok := s.vol.(fileLister)
	if !ok {
		return st
	}
	versions := s.vol.Versions(ctx)
	for _, f := range files.Files() {
		st.Status.Objects = append(st.Status.Objects, kube.SecretProviderClassObject{ID: ObjectID(f), Version: versions[f.Path]})
	}
	return st
}

// deleteStatus removes the status of an unmounted volume.
func (w *Writer) deleteStatus(ctx context.Context, s snapshot) error {
	_, class := splitClass(s.class)
	name := StatusName(s.pod.Name, s.pod.Namespace, class)
	err := w.statuses.Delete().Namespace(s.pod.Namespace).Resource(kube.PodStatusResource).Name(name).Do(ctx).Error()
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting SecretProviderClassPodStatus %s/%s: %w", s.pod.Namespace, name, err)
	}
	return nil
}
