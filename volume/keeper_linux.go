package volume

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/secretfs/secretfs/csi"
	"github.com/secretfs/secretfs/fusefs"
	"github.com/secretfs/secretfs/fusefs/keeper"
)

// keeperBackend is the FUSE backend whose mounts outlive this process: a
// keeper (secretfs keeper) owns each /dev/fuse connection and this process
// serves the socket it hands back. Asking for a target the keeper already
// holds (after a restart) resumes it: the keeper replays what a new server
// needs, and readers see a stall, not an error.
//
// With each mount the keeper keeps a memo: the mount request, pod
// credentials included, so that the next process can serve the mount again
// at once (Manager.Resume) instead of waiting for kubelet's republish. The
// memo lives only in the keeper's memory (like the files' content in the
// kernel's page cache), travels to the next keeper on a handover, and is
// readable only by root through the keeper's 0600 socket; it is never
// written to disk or logged.
type keeperBackend struct {
	client *keeper.Client
	opts   fusefs.Options
}

// NewKeeperBackend returns the FUSE backend that mounts through the keeper
// listening on socket.
func NewKeeperBackend(socket string, opts FuseOptions) Backend {
	return keeperBackend{client: keeper.NewClient(socket), opts: opts}
}

var _ Backend = keeperBackend{}

// Name is "fuse": the mount is a FUSE mount like any other.
func (keeperBackend) Name() string { return "fuse" }

// Mount asks the keeper to mount target (or to hand over the mount it
// holds there) and serves the connection it returns. It keeps the memo the
// keeper already holds.
func (b keeperBackend) Mount(target string, v *Volume) (Mounted, error) {
	return b.mountMemo(target, v, nil)
}

// name is the FUSE file system name the keeper mounts with.
func (b keeperBackend) name() string {
	if b.opts.Name == "" {
		return "secretfs"
	}
	return b.opts.Name
}

var _ owner = keeperBackend{}

// owns: a secretfs FUSE mount the keeper holds (this process's
// predecessor's), which Mount takes over.
func (b keeperBackend) owns(target string, mnt *mountinfo.Info) (bool, error) {
	if mnt.FSType != "fuse."+b.name() {
		return false, nil
	}
	list, err := b.client.List()
	if err != nil {
		return false, fmt.Errorf("asking the keeper whether it holds the mount at %s: %w", target, err)
	}
	for _, mi := range list {
		if mi.Target == target {
			return true, nil
		}
	}
	return false, nil
}

// unmountAt asks the keeper to unmount target (its own, or a dead one).
func (b keeperBackend) unmountAt(target string) error { return b.client.Unmount(target) }

// mountMemo is Mount that also gives the keeper memo (nil: keep the old).
func (b keeperBackend) mountMemo(target string, v *Volume, memo []byte) (Mounted, error) {
	fd, err := b.connect(target, b.name(), memo)
	if err != nil {
		return nil, err
	}
	// go-fuse owns fd from here: it closes it when the server ends.
	srv, err := fusefs.Serve(fmt.Sprintf("/dev/fd/%d", fd), fuseFiles(v), v, b.opts)
	if err != nil {
		return nil, errors.Join(err, b.client.Unmount(target))
	}
	return &keptMount{Server: srv, client: b.client, target: target}, nil
}

// connect asks the keeper for the connection at target and returns a
// descriptor of it that nothing else owns: go-fuse closes the descriptor
// it serves, so handing it the *os.File's own would close it twice (the
// second time, perhaps, someone else's file that reused the number).
func (b keeperBackend) connect(target, name string, memo []byte) (int, error) {
	f, _, err := b.client.Mount(target, name, memo)
	// A keeper handing over (an upgrade) refuses for the few milliseconds
	// it takes; the next keeper answers.
	for end := time.Now().Add(handoverWait); errors.Is(err, keeper.ErrHandedOver) && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
		f, _, err = b.client.Mount(target, name, memo)
	}
	if err != nil {
		return -1, err
	}
	defer f.Close()
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		return -1, fmt.Errorf("keeper connection of %s: %w", target, err)
	}
	return fd, nil
}

// handoverWait bounds how long a mount waits for a keeper handover.
const handoverWait = 10 * time.Second

// keptMount is a volume served on a keeper's connection.
type keptMount struct {
	*fusefs.Server
	client *keeper.Client
	target string
}

var _ Mounted = (*keptMount)(nil)

// serverEndWait bounds how long Unmount waits for the server to see its
// connection end. The keeper ends it at once, or aborts it within seconds
// when another mount namespace still holds a copy of the mount; either
// way the target is unmounted when the keeper answers.
const serverEndWait = 10 * time.Second

// Unmount asks the keeper to unmount; the server ends with the connection.
func (m *keptMount) Unmount() error {
	if err := m.client.Unmount(m.target); err != nil {
		return err
	}
	ended := make(chan struct{})
	go func() { m.Wait(); close(ended) }() // ends with the server
	select {
	case <-ended:
	case <-time.After(serverEndWait):
		slog.Warn("the server of an unmounted kept volume has not stopped; it stops when the keeper ends its connection",
			"target", m.target, "waited", serverEndWait)
	}
	return nil
}

// memo is what this process gives the keeper with each mount: everything
// Manager.Mount needs to serve it again. Credentials included: see
// keeperBackend for where it lives.
type memo struct {
	Request csi.MountRequest `json:"request"`
}

// memoBackend mounts through the keeper with a memo of r.
type memoBackend struct {
	keeperBackend
	memo []byte
	kept bool // the keeper held the target when this process started
}

// owns: what the keeper held at start (Resume listed it: no need to ask
// again for each of hundreds of kept mounts), or holds now.
func (b memoBackend) owns(target string, mnt *mountinfo.Info) (bool, error) {
	if b.kept && mnt.FSType == "fuse."+b.name() {
		return true, nil
	}
	return b.keeperBackend.owns(target, mnt)
}

func (b memoBackend) Mount(target string, v *Volume) (Mounted, error) {
	return b.mountMemo(target, v, b.memo)
}

// backendFor is the backend that mounts r: with the keeper, one that gives
// it a memo of r.
func (m *Manager) backendFor(r csi.MountRequest) (Backend, error) {
	kb, ok := m.backend.(keeperBackend)
	if !ok {
		return m.backend, nil
	}
	b, err := json.Marshal(memo{Request: r})
	if err != nil {
		return nil, fmt.Errorf("encoding the keeper memo of %s: %w", r.TargetPath, err)
	}
	m.mu.Lock()
	kept := m.kept[r.TargetPath]
	m.mu.Unlock()
	return memoBackend{keeperBackend: kb, memo: b, kept: kept}, nil
}

// remember gives the keeper a new memo of r (a republish: its credentials
// may be fresh, e.g. a new workload identity token).
func (m *Manager) remember(r csi.MountRequest) error {
	b, err := m.backendFor(r)
	if mb, ok := b.(memoBackend); ok && err == nil {
		err = mb.client.Remember(r.TargetPath, mb.memo)
	}
	if err != nil {
		return fmt.Errorf("updating the keeper's memo of %s: %w", r.TargetPath, err)
	}
	return nil
}

// resumeTimeout bounds the resumption of one mount (its objects fetched
// again from Key Vault); one that fails waits for kubelet's republish.
const resumeTimeout = 30 * time.Second

// Resume serves again the mounts the keeper held across a restart of this
// process, from their memos, before this process serves CSI; their readers
// only stalled. It returns the targets the keeper holds (resumed or not:
// checking those for a dead mount would wait for their server) and the
// errors of those it could not resume (readers keep waiting for kubelet's
// republish, which resumes them too). Without a keeper it does nothing.
func (m *Manager) Resume(ctx context.Context, log *slog.Logger) (kept []string, err error) {
	kb, ok := m.backend.(keeperBackend)
	if !ok {
		return nil, nil
	}
	list, err := kb.client.List()
	if err != nil {
		return nil, fmt.Errorf("listing the keeper's mounts: %w", err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, 8) // Key Vault fetches in flight, per mount
	)
	m.mu.Lock()
	for _, mi := range list {
		m.kept[mi.Target] = true
	}
	m.mu.Unlock()
	for _, mi := range list {
		kept = append(kept, mi.Target)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := m.resume(ctx, mi, log); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return kept, errors.Join(errs...)
}

// resume serves one kept mount again from its memo.
func (m *Manager) resume(ctx context.Context, mi keeper.MountInfo, log *slog.Logger) error {
	var mm memo
	if len(mi.Memo) == 0 {
		return fmt.Errorf("resuming %s: the keeper has no memo of it: it waits for kubelet's republish", mi.Target)
	}
	if err := json.Unmarshal(mi.Memo, &mm); err != nil || mm.Request.TargetPath != mi.Target || mm.Request.Params == nil {
		// The decoding error may quote the memo: not wrapped.
		return fmt.Errorf("resuming %s: the keeper's memo of it is not one this version reads: it waits for kubelet's republish", mi.Target)
	}
	ctx, cancel := context.WithTimeout(ctx, resumeTimeout)
	defer cancel()
	start := time.Now()
	if err := m.Mount(ctx, mm.Request); err != nil {
		return fmt.Errorf("resuming %s (pod %s/%s): %w", mi.Target, mm.Request.Pod.Namespace, mm.Request.Pod.Name, err)
	}
	log.Info("resumed a kept mount", "target", mi.Target, "pod", mm.Request.Pod.Namespace+"/"+mm.Request.Pod.Name,
		"waiting", mi.Waiting, "took", time.Since(start))
	return nil
}
