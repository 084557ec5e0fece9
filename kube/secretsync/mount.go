package secretsync

import (
	"errors"
	"strings"

	"github.com/secretfs/secretfs/csi"
)

// mount is what the writer knows of one target. Fields are guarded by
// Writer.mu; a worker reads them through a snapshot.
type mount struct {
	target string
	pod    csi.PodInfo // UID filled in from the API server if kubelet sent none
	class  string      // "namespace/name"
	vol    source      // nil once unmounted: the entry then awaits cleanup
	// rotated says a file changed since the last successful reconcile.
	rotated bool
	// secrets are the names this mount made (or tried to make) its pod an
	// owner of, so unmount can undo it even if the class is gone by then.
	secrets map[string]bool
	// lastWarning is the message of the last warning event, so a failure
	// retried with backoff is reported once, not on every attempt.
	lastWarning string
}

// snapshot is a worker's copy of a mount, taken under the lock.
type snapshot struct {
	m       *mount // identity, for finish
	target  string
	pod     csi.PodInfo
	class   string
	vol     source
	rotated bool
	secrets []string
}

// snapshot copies target's entry and clears its rotated mark (failed puts
// it back).
func (w *Writer) snapshot(target string) (snapshot, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.mounts[target]
	if m == nil {
		return snapshot{}, false
	}
	s := snapshot{m: m, target: target, pod: m.pod, class: m.class, vol: m.vol, rotated: m.rotated}
	for name := range m.secrets {
		s.secrets = append(s.secrets, name)
	}
	m.rotated = false
	return s, true
}

// mountedTargets lists the targets still mounted.
func (w *Writer) mountedTargets() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var targets []string
	for t, m := range w.mounts {
		if m.vol != nil {
			targets = append(targets, t)
		}
	}
	return targets
}

// noteSecret records that s's pod is (about to be) an owner of the Secret.
func (w *Writer) noteSecret(s snapshot, name string) {
	w.mu.Lock()
	s.m.secrets[name] = true
	w.mu.Unlock()
}

// notePodUID keeps a pod UID looked up from the API server.
func (w *Writer) notePodUID(s snapshot, uid string) {
	w.mu.Lock()
	s.m.pod.UID = uid
	w.mu.Unlock()
}

// forget drops an unmounted entry, unless it was mounted again meanwhile.
func (w *Writer) forget(s snapshot) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mounts[s.target] == s.m && s.m.vol == nil {
		delete(w.mounts, s.target)
	}
}

// finish forgets a cleaned-up mount, unless it was mounted again meanwhile,
// and clears the warning memory of a healthy one.
func (w *Writer) finish(s snapshot) {
	w.mu.Lock()
	s.m.lastWarning = ""
	w.mu.Unlock()
	if s.vol == nil {
		w.forget(s)
	}
}

// failed puts back the rotated mark, counts the error and reports it on the
// pod once per distinct message.
func (w *Writer) failed(s snapshot, err error) {
	w.mu.Lock()
	if s.rotated && s.m.vol != nil {
		s.m.rotated = true
	}
	repeat := s.m.lastWarning == err.Error()
	s.m.lastWarning = err.Error()
	w.mu.Unlock()
	w.metrics.failed(s, err)
	w.log.Warn("secret sync failed", "target", s.target, "pod", s.pod.Namespace+"/"+s.pod.Name, "class", s.class, "err", err)
	var ev eventError
	if s.vol != nil && !repeat && !every(err, isRoutine) && errors.As(err, &ev) {
		w.event(s.pod, warning, ev.reason, err.Error())
	}
}

// stillOwns reports whether another live mount of the same pod syncs the
// Secret namespace/name, so unmounting one of its volumes keeps the owner.
func (w *Writer) stillOwns(s snapshot, name string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range w.mounts {
		if m != s.m && m.vol != nil && m.pod.UID == s.pod.UID && m.pod.Namespace == s.pod.Namespace && m.secrets[name] {
			return true
		}
	}
	return false
}

// splitClass splits "namespace/name".
func splitClass(class string) (namespace, name string) {
	namespace, name, ok := strings.Cut(class, "/")
	if !ok {
		return "", class
	}
	return namespace, name
}
