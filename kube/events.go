package kube

import (
	"context"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// PodRef names the pod an event is about.
type PodRef struct{ Namespace, Name, UID string }

// Events records events on pods, best effort. They are written directly
// (no record.EventRecorder), so no broadcaster goroutine outlives the
// caller; a failure is logged at debug level and never retried. Callers
// never put secret values in messages.
type Events struct {
	client kubernetes.Interface
	node   string
	log    *slog.Logger
}

// NewEvents returns Events reported by secretfs on node.
func NewEvents(client kubernetes.Interface, node string, log *slog.Logger) *Events {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Events{client: client, node: node, log: log}
}

// Record records one event of type typ (corev1.EventTypeNormal or
// EventTypeWarning) on pod.
func (e *Events) Record(ctx context.Context, pod PodRef, typ, reason, message string) {
	now := metav1.Now()
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: pod.Name + ".", Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{
			APIVersion: "v1", Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: types.UID(pod.UID),
		},
		Reason: reason, Message: message, Type: typ,
		Source:         corev1.EventSource{Component: "secretfs", Host: e.node},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	if _, err := e.client.CoreV1().Events(pod.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		e.log.Debug("recording an event failed", "pod", pod.Namespace+"/"+pod.Name, "reason", reason, "err", err)
	}
}
