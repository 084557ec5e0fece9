package secretsync

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/secretfs/secretfs/csi"
	"github.com/secretfs/secretfs/kube"
)

// Event types.
const (
	normal  = corev1.EventTypeNormal
	warning = corev1.EventTypeWarning
)

// eventTimeout bounds one event: events are best effort and must not hold
// a worker while the API server is away.
const eventTimeout = 5 * time.Second

// event records an event on the pod (kube.Events: best effort, never
// retried). Messages never hold secret values.
func (w *Writer) event(pod csi.PodInfo, typ, reason, message string) {
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	w.events.Record(ctx, kube.PodRef{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID}, typ, reason, message)
}
