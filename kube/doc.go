// Package kube is secretfs's access to the Kubernetes API: the
// SecretProviderClass and SecretProviderClassPodStatus types of the
// Secrets Store CSI Driver (secrets-store.csi.x-k8s.io/v1, CRDs unchanged,
// so existing manifests work as they are) and Classes, an informer-backed
// cache of SecretProviderClasses.
//
// Classes exists so that NodePublishVolume — called for every pod start and
// again by kubelet's periodic republish — does not cost an API server GET:
// it answers from a watch-fed cache, and only when the cache has not synced
// yet or misses (a class created a moment ago) does it ask the API server
// once.
//
// Only client-go is used: the types are registered in a private scheme and
// read with a small typed REST client, so no generated clientset is needed.
package kube
