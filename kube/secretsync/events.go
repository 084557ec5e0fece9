package secretsync

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/secretfs/secretfs/csi"
)

// Event types.
const (
	normal  = corev1.EventTypeNormal
	warning = corev1.EventTypeWarning
)

// eventTimeout bounds one event: events are best effort and must not hold
// a worker while the API server is away.
const eventTimeout = 5 * time.Second

// event records an event on the pod. It is written directly (no
// record.EventRecorder) so that no broadcaster goroutine outlives Close;
// a failure is logged, never retried. Messages never hold secret values.
func (w *Writer) event(pod csi.PodInfo, typ, reason, message string) {
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	now := metav1.Now()
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: pod.Name + ".", Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{
			APIVersion: "v1", Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: types.UID(pod.UID),
		},
		Reason: reason, Message: message, Type: typ,
		Source:         corev1.EventSource{Component: "secretfs", Host: w.opts.NodeName},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	if _, err := w.client.CoreV1().Events(pod.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		w.log.Debug("recording an event failed", "pod", pod.Namespace+"/"+pod.Name, "reason", reason, "err", err)
	}
}
