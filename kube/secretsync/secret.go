package secretsync

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/secretfs/secretfs/kube"
)

// ManagedLabel marks Secrets a sync writer created (upstream's label): only
// these are ever updated or deleted.
const ManagedLabel = "secrets-store.csi.k8s.io/managed"

// Event reasons on the pod. The rotation ones are upstream's.
const (
	ReasonSecretCreated          = "SecretCreated"
	ReasonSecretRotationComplete = "SecretRotationComplete"
	ReasonMountRotationComplete  = "MountRotationComplete"
	ReasonFailedToCreateSecret   = "FailedToCreateSecret"
	ReasonFailedToUpdateStatus   = "FailedToUpdatePodStatus"
)

// outcome is what ensureSecret did; a larger value says more happened, so
// merged can keep the max.
type outcome int

const (
	unchanged outcome = iota
	adopted           // only labels, annotations or owners changed
	updated           // the data changed: a rotation reached the Secret
	created
)

// reconcile brings the Secrets and the status of a mounted volume in step.
func (w *Writer) reconcile(ctx context.Context, s snapshot) error {
	start := w.metrics.now()
	if err := w.resolvePodUID(ctx, &s); err != nil {
		return err
	}
	ns, name := splitClass(s.class)
	spc, err := w.classes.Get(ns, name)
	if errors.Is(err, kube.ErrNotFound) {
		spc = &kube.SecretProviderClass{} // deleted meanwhile: nothing to sync, status still current
	} else if err != nil {
		return withReason(ReasonFailedToCreateSecret, fmt.Errorf("reading SecretProviderClass %s: %w", s.class, err))
	}
	rotated, errs := false, []error(nil)
	for _, so := range spc.Spec.SecretObjects {
		if so == nil {
			continue
		}
		out, err := w.syncSecret(ctx, s, so)
		errs = append(errs, err)
		rotated = rotated || out == updated
	}
	statusChanged, err := w.syncStatus(ctx, s)
	errs = append(errs, withReason(ReasonFailedToUpdateStatus, err))
	err = errors.Join(errs...)
	if s.rotated {
		w.metrics.rotation(start, rotated || statusChanged, err)
		if statusChanged && err == nil {
			w.event(s.pod, normal, ReasonMountRotationComplete,
				fmt.Sprintf("the volume at %s shows the new Key Vault versions of SecretProviderClass %s", s.target, s.class))
		}
	}
	return err
}

// resolvePodUID asks the API server for the pod's UID when kubelet did not
// send csi.storage.k8s.io/pod.uid: owner references need it.
func (w *Writer) resolvePodUID(ctx context.Context, s *snapshot) error {
	if s.pod.UID != "" {
		return nil
	}
	pod, err := w.client.CoreV1().Pods(s.pod.Namespace).Get(ctx, s.pod.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading pod %s/%s for its UID: %w", s.pod.Namespace, s.pod.Name, err)
	}
	s.pod.UID = string(pod.UID)
	w.notePodUID(*s, s.pod.UID)
	return nil
}

// syncSecret makes the Secret of one secretObjects entry hold the volume's
// current content, with the pod among its owners.
func (w *Writer) syncSecret(ctx context.Context, s snapshot, so *kube.SecretObject) (outcome, error) {
	start := w.metrics.now()
	name := strings.TrimSpace(so.SecretName)
	if name == "" {
		return unchanged, withReason(ReasonFailedToCreateSecret, permanent(fmt.Errorf(
			"SecretProviderClass %s has a secretObjects entry without secretName: name the Secret to create", s.class)))
	}
	data, err := secretData(ctx, s.vol, so)
	if err != nil {
		return unchanged, withReason(ReasonFailedToCreateSecret, fmt.Errorf("Secret %s/%s: %w", s.pod.Namespace, name, err))
	}
	w.noteSecret(s, name)
	desired := desiredSecret(s, name, so, data)
	out, err := w.ensureSecret(ctx, desired)
	if err != nil {
		return out, withReason(ReasonFailedToCreateSecret, err)
	}
	w.metrics.synced(start, out)
	switch out {
	case created:
		w.log.Info("created synced Secret", "secret", s.pod.Namespace+"/"+name, "pod", s.pod.Name, "class", s.class)
		w.event(s.pod, normal, ReasonSecretCreated, fmt.Sprintf("created Secret %s from SecretProviderClass %s", name, s.class))
	case updated:
		w.log.Info("updated synced Secret", "secret", s.pod.Namespace+"/"+name, "pod", s.pod.Name, "class", s.class)
		w.event(s.pod, normal, ReasonSecretRotationComplete, fmt.Sprintf("Secret %s holds the new content of SecretProviderClass %s", name, s.class))
	}
	return out, nil
}

// secretData reads the entry's objects from the volume; for
// kubernetes.io/tls it keeps only the certificate or key part.
func secretData(ctx context.Context, vol source, so *kube.SecretObject) (map[string][]byte, error) {
	if len(so.Data) == 0 {
		return nil, permanent(errors.New("secretObjects entry has no data: list the objects to sync as data[{objectName, key}]"))
	}
	tls := corev1.SecretType(so.Type) == corev1.SecretTypeTLS
	data := make(map[string][]byte, len(so.Data))
	for _, d := range so.Data {
		if d == nil {
			continue
		}
		object, key := strings.TrimSpace(d.ObjectName), strings.TrimSpace(d.Key)
		if object == "" || key == "" {
			return nil, permanent(fmt.Errorf("data entry {objectName: %q, key: %q}: both must be set", object, key))
		}
		b, err := vol.Read(ctx, object)
		if errors.Is(err, os.ErrNotExist) {
			return nil, permanent(fmt.Errorf("objectName %q is not a file of the volume: use the objectAlias or objectName of an entry of parameters.objects (name/0 for history)", object))
		}
		if err != nil {
			return nil, fmt.Errorf("reading object %q: %w", object, err)
		}
		if tls {
			if b, err = tlsPart(b, key); err != nil {
				return nil, permanent(fmt.Errorf("objectName %q for key %s: %w", object, key, err))
			}
		}
		data[key] = b
	}
	return data, nil
}

func desiredSecret(s snapshot, name string, so *kube.SecretObject, data map[string][]byte) *corev1.Secret {
	labels := maps.Clone(so.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[ManagedLabel] = "true"
	typ := corev1.SecretType(strings.TrimSpace(so.Type))
	if typ == "" {
		typ = corev1.SecretTypeOpaque
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: s.pod.Namespace, Labels: labels, Annotations: maps.Clone(so.Annotations),
			OwnerReferences: []metav1.OwnerReference{podOwner(s)},
		},
		Type: typ, Data: data,
	}
}

func podOwner(s snapshot) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: s.pod.Name, UID: types.UID(s.pod.UID)}
}

// ensureSecret creates want, or brings a managed Secret of that name to it
// while keeping the owners other pods added. Conflicts and API errors are
// returned for a retry with backoff.
func (w *Writer) ensureSecret(ctx context.Context, want *corev1.Secret) (outcome, error) {
	api := w.client.CoreV1().Secrets(want.Namespace)
	cur, err := api.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, err := api.Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return unchanged, fmt.Errorf("creating Secret %s/%s: %w", want.Namespace, want.Name, err)
		}
		return created, nil
	}
	if err != nil {
		return unchanged, fmt.Errorf("reading Secret %s/%s: %w", want.Namespace, want.Name, err)
	}
	if cur.Labels[ManagedLabel] != "true" {
		return unchanged, permanent(fmt.Errorf("Secret %s/%s %w (no label %s=true), so it is left untouched: "+
			"change secretName in the SecretProviderClass, or delete or rename the existing Secret",
			want.Namespace, want.Name, errUnmanaged, ManagedLabel))
	}
	if cur.Type != want.Type {
		return unchanged, permanent(fmt.Errorf("Secret %s/%s has type %s, the SecretProviderClass asks for %s and the type of a Secret cannot change: delete the Secret and it is created again",
			want.Namespace, want.Name, cur.Type, want.Type))
	}
	next, out := merged(cur, want)
	if out == unchanged {
		return unchanged, nil
	}
	if _, err := api.Update(ctx, next, metav1.UpdateOptions{}); err != nil {
		return unchanged, fmt.Errorf("updating Secret %s/%s: %w", want.Namespace, want.Name, err)
	}
	return out, nil
}

// merged is cur with want's data, labels, annotations and owner added.
func merged(cur, want *corev1.Secret) (*corev1.Secret, outcome) {
	next := cur.DeepCopy()
	out := unchanged
	if !maps.EqualFunc(cur.Data, want.Data, slices.Equal) {
		next.Data, out = want.Data, updated
	}
	adopt := func(dst *map[string]string, src map[string]string) {
		for k, v := range src {
			if (*dst)[k] != v {
				if *dst == nil {
					*dst = map[string]string{}
				}
				(*dst)[k] = v
				out = max(out, adopted)
			}
		}
	}
	adopt(&next.Labels, want.Labels)
	adopt(&next.Annotations, want.Annotations)
	owner := want.OwnerReferences[0]
	if !slices.ContainsFunc(next.OwnerReferences, func(r metav1.OwnerReference) bool { return r.UID == owner.UID }) {
		next.OwnerReferences = append(next.OwnerReferences, owner)
		out = max(out, adopted)
	}
	return next, out
}

// cleanup undoes an unmounted volume: its pod stops owning the Secrets it
// synced (the last owner deletes them) and its status object goes.
func (w *Writer) cleanup(ctx context.Context, s snapshot) error {
	var errs []error
	if s.pod.UID != "" {
		for _, name := range s.secrets {
			if w.stillOwns(s, name) {
				continue
			}
			errs = append(errs, w.disown(ctx, s, name))
		}
	}
	errs = append(errs, w.deleteStatus(ctx, s))
	return errors.Join(errs...)
}

// disown removes s's pod from the Secret's owners, deleting the Secret
// when no owner remains. The delete carries the resourceVersion it decided
// on: if another node added its pod since, the delete fails with a conflict
// and the retry sees the new owner.
func (w *Writer) disown(ctx context.Context, s snapshot, name string) error {
	api := w.client.CoreV1().Secrets(s.pod.Namespace)
	cur, err := api.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading Secret %s/%s: %w", s.pod.Namespace, name, err)
	}
	uid := types.UID(s.pod.UID)
	owners := slices.DeleteFunc(slices.Clone(cur.OwnerReferences), func(r metav1.OwnerReference) bool { return r.UID == uid })
	if cur.Labels[ManagedLabel] != "true" || len(owners) == len(cur.OwnerReferences) {
		return nil // not ours, or this pod is no owner
	}
	if len(owners) == 0 {
		pre := metav1.Preconditions{UID: &cur.UID, ResourceVersion: &cur.ResourceVersion}
		err := api.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &pre})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting Secret %s/%s: %w", s.pod.Namespace, name, err)
		}
		w.log.Info("deleted synced Secret: its last pod unmounted it", "secret", s.pod.Namespace+"/"+name, "pod", s.pod.Name)
		return nil
	}
	next := cur.DeepCopy()
	next.OwnerReferences = owners
	if _, err := api.Update(ctx, next, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing pod %s from the owners of Secret %s/%s: %w", s.pod.Name, s.pod.Namespace, name, err)
	}
	return nil
}
