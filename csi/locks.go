package csi

import "sync"

// targetLocks admits one operation per target path at a time. A second
// caller is refused rather than queued: kubelet retries Aborted calls, and
// queueing would stack up calls behind a slow Key Vault.
//
// The zero value is ready to use.
type targetLocks struct {
	mu   sync.Mutex
	busy map[string]struct{} // guarded by mu
}

// tryLock claims target and reports whether it was free.
func (l *targetLocks) tryLock(target string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.busy[target]; ok {
		return false
	}
	if l.busy == nil {
		l.busy = map[string]struct{}{}
	}
	l.busy[target] = struct{}{}
	return true
}

// unlock releases a target claimed by tryLock.
func (l *targetLocks) unlock(target string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.busy, target)
}
