package volume

import (
	"context"
	"fmt"
	"sync"

	mountutils "k8s.io/mount-utils"

	"github.com/secretfs/secretfs/csi"
)

// Manager mounts and unmounts volumes for the CSI node service. It
// implements csi.Mounter; the CSI layer serializes calls per target.
type Manager struct {
	node    *Node
	backend Backend

	mu       sync.Mutex
	mounts   map[string]*mounted // by target path; guarded by mu
	observer Observer            // guarded by mu; nil = none
	// kept holds the targets the keeper held when this process started
	// (Resume): mounts of ours to take up again, not to refuse. Guarded
	// by mu.
	kept map[string]bool
}

// Observer learns about mounted volumes (the Kubernetes Secret sync
// writer). Its methods are called on the mount path and from the cache's
// change dispatcher, so they must not block: queue the work.
type Observer interface {
	// Mounted is called after a successful first mount (not on republish).
	Mounted(r csi.MountRequest, v *Volume)
	// Changed is called when a file of the volume at target has new content
	// (rotation); it may be called once per changed path.
	Changed(target string, v *Volume)
	// Unmounted is called after target was unmounted (also for a target
	// this process did not know).
	Unmounted(target string)
}

// SetObserver makes o learn about later mounts, changes and unmounts; nil
// removes it.
func (m *Manager) SetObserver(o Observer) {
	m.mu.Lock()
	m.observer = o
	m.mu.Unlock()
}

type mounted struct {
	vol *Volume
	m   Mounted
}

var _ csi.Mounter = (*Manager)(nil)

// NewManager returns a Manager that opens volumes on node and shows them
// with backend.
func NewManager(node *Node, backend Backend) *Manager {
	return &Manager{node: node, backend: backend, mounts: map[string]*mounted{}, kept: map[string]bool{}}
}

// Mount authenticates, fetches every object, then mounts at the target. A
// target already mounted is a republish: the new credentials are checked
// and used, and nothing is fetched while the cache is fresh. A republish
// whose parameters changed is refused (FailedPrecondition) and changes
// nothing, the keeper's memo included: a mounted volume keeps the file set
// it was mounted with, as kubelet gives a running pod no way to see a
// consistent new one.
func (m *Manager) Mount(ctx context.Context, r csi.MountRequest) error {
	target, err := cleanTarget(r.TargetPath)
	if err != nil {
		return err
	}
	r.TargetPath = target // "/x/t/" is "/x/t": one mount, never two stacked
	if cur := m.lookup(r.TargetPath); cur != nil {
		if !cur.vol.SameParams(r.Params) {
			return fmt.Errorf("the SecretProviderClass changed since %s was mounted; the volume keeps the parameters it was mounted with: recreate the pod to pick up the change: %w",
				r.TargetPath, csi.ErrFailedPrecondition)
		}
		if err := cur.vol.Reauthenticate(ctx, r.Creds); err != nil {
			return err
		}
		return m.remember(r)
	}
	backend, err := m.backendFor(r)
	if err != nil {
		return err
	}
	vol, err := m.node.Open(ctx, r.Params, r.Creds)
	if err != nil {
		return err
	}
	shown, err := Show(ctx, backend, r.TargetPath, vol)
	if err != nil {
		vol.Close()
		return err
	}
	m.mu.Lock()
	m.mounts[r.TargetPath] = &mounted{vol: vol, m: shown}
	o := m.observer
	m.mu.Unlock()
	if o != nil {
		vol.OnChange(func(path string) { shown.Changed(path); o.Changed(r.TargetPath, vol) })
		o.Mounted(r, vol)
	}
	return nil
}

// Unmount removes the volume at target, and the target directory if
// secretfs created it (see prepareTarget). It also cleans a target this
// process does not know: one left mounted by an earlier process, or a
// secretfs FUSE mount whose server died (ENOTCONN). Whatever else is at
// target (a directory that was there before, a file, someone else's
// mount) stays as it is.
func (m *Manager) Unmount(ctx context.Context, target string) error {
	target, err := cleanTarget(target)
	if err != nil {
		return err
	}
	m.mu.Lock()
	cur := m.mounts[target]
	delete(m.mounts, target)
	delete(m.kept, target)
	o := m.observer
	m.mu.Unlock()
	if o != nil {
		defer o.Unmounted(target)
	}
	if cur != nil {
		cur.vol.Close()
		if err := cur.m.Unmount(); err != nil {
			return fmt.Errorf("unmounting %s: %w", target, err)
		}
		return nil
	}
	return m.release(target)
}

// release cleans a target this process did not mount: it unmounts what an
// earlier process mounted there, then removes the directory if secretfs
// created it.
func (m *Manager) release(target string) error {
	at, err := probeTarget(target)
	if err != nil {
		return err
	}
	if err := releaseLeftover(m.backend, target, at); err != nil {
		return fmt.Errorf("unmounting %s: %w", target, err)
	}
	return releaseTarget(target, false)
}

// Backend names the backend volumes are shown with: "fuse" or "files".
func (m *Manager) Backend() string { return m.backend.Name() }

// Close closes the node (its cache subscription) and unmounts nothing: mounted volumes outlive the process, like tmpfs.
// It forgets the volumes so their change routes are dropped.
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for t, cur := range m.mounts {
		cur.vol.Close()
		delete(m.mounts, t)
	}
	m.node.Close()
}

// UnmountDead unmounts target if it is a mount whose FUSE server is gone
// (statfs answers ENOTCONN), keeping the directory, so a republish can mount
// it again. A healthy mount or a plain directory is left alone.
func UnmountDead(target string) error {
	if !IsDeadMount(target) {
		return nil
	}
	return mountutils.New("").Unmount(target)
}

// Volume returns the volume mounted at target, if this process mounted it.
func (m *Manager) Volume(target string) (*Volume, bool) {
	cur := m.lookup(target)
	if cur == nil {
		return nil, false
	}
	return cur.vol, true
}

func (m *Manager) lookup(target string) *mounted {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mounts[target]
}
