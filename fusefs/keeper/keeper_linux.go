//go:build linux

package keeper

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrHandedOver is a mount asked of a keeper that is handing its mounts to
// the next one: ask again, and the next keeper answers.
var ErrHandedOver = errors.New("keeper: handed over to the next keeper; ask again")

// Config configures a Keeper.
type Config struct {
	// Socket is the path of the control socket servers (and the next
	// keeper) connect to.
	Socket string
	// HungAfter is how long a request may stay unanswered by an attached
	// server before the watchdog drops it (and revival's bound). Default
	// 30 s: longer than any Key Vault fetch with retries.
	HungAfter time.Duration
	// KillHung also sends SIGKILL to a hung server, when its PID is
	// visible (same PID namespace), so its supervisor restarts it.
	KillHung bool
	// Log receives the keeper's events; default slog.Default().
	Log *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.HungAfter <= 0 {
		c.HungAfter = 30 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// Keeper holds FUSE connections across restarts of their server.
type Keeper struct {
	cfg  Config
	ln   *net.UnixListener
	quit chan struct{} // closed to stop accepting and the watchdog
	once func(func())  // closes quit once
	wg   sync.WaitGroup
	done chan struct{} // closed when the keeper stopped (Close or handover)
	// ending counts unmounted connections waiting for their end (release).
	ending sync.WaitGroup

	// mu guards conns and serialises mounts, unmounts and the handover.
	mu    sync.Mutex
	conns map[string]*conn
	// handedOver: the connections now belong to the next keeper.
	handedOver bool
}

// Start listens on cfg.Socket and serves mount requests. A stale socket
// file is replaced; a live keeper there is an error (use Takeover).
func Start(cfg Config) (*Keeper, error) {
	cfg = cfg.withDefaults()
	if c, err := net.Dial("unixpacket", cfg.Socket); err == nil {
		c.Close()
		return nil, fmt.Errorf("keeper: a keeper already listens on %s: take over from it instead", cfg.Socket)
	}
	ln, err := listen(cfg.Socket)
	if err != nil {
		return nil, err
	}
	return run(cfg, ln, map[string]*conn{}), nil
}

// listen listens on a socket at path that is its owner's only (mode
// 0600) from the moment it appears there: only root may talk to the
// keeper, since List returns the memos. bind(2) creates the file with the
// process's umask, and a chmod after it leaves a window; so the socket is
// bound inside a fresh 0700 directory, restricted there, and renamed into
// place (replacing a stale socket file atomically).
func listen(path string) (*net.UnixListener, error) {
	dir, err := os.MkdirTemp(filepath.Dir(path), ".keeper-")
	if err != nil {
		return nil, fmt.Errorf("keeper: a private directory to create the socket in: %w", err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "s")
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: tmp, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("keeper: listening: %w", err)
	}
	ln.SetUnlinkOnClose(false) // the next keeper keeps listening on it
	if err := os.Chmod(tmp, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("keeper: restricting the socket to its owner: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		return nil, fmt.Errorf("keeper: placing the socket at %s: %w", path, err)
	}
	return ln, nil
}

func run(cfg Config, ln *net.UnixListener, conns map[string]*conn) *Keeper {
	var once sync.Once
	k := &Keeper{cfg: cfg, ln: ln, quit: make(chan struct{}), once: once.Do, done: make(chan struct{}), conns: conns}
	for _, c := range conns {
		c.onEnd = k.forget
	}
	k.wg.Add(2)
	go func() { defer k.wg.Done(); k.accept() }()
	go func() { defer k.wg.Done(); k.watchdog() }()
	return k
}

// Done is closed when the keeper stopped: after Close, or after handing
// its connections to the next keeper (the process should then exit).
func (k *Keeper) Done() <-chan struct{} { return k.done }

// Mounts lists the mounts held.
func (k *Keeper) Mounts() []MountInfo {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]MountInfo, 0, len(k.conns))
	for _, c := range k.conns {
		out = append(out, c.info())
	}
	return out
}

// Close unmounts every mount (lazily if busy), stops serving and waits for
// every goroutine. After a handover it only waits.
func (k *Keeper) Close() error {
	k.stopServing()
	k.mu.Lock()
	var errs []error
	conns := k.conns
	k.conns = map[string]*conn{}
	handedOver := k.handedOver
	if !handedOver {
		for t := range conns {
			errs = append(errs, unmount(t))
		}
	}
	k.mu.Unlock()
	for _, c := range conns {
		if handedOver {
			c.wg.Wait() // stopped by the handover
			continue
		}
		k.ending.Add(1)
		go func() { defer k.ending.Done(); c.release(endWait) }()
	}
	k.ending.Wait()
	k.ln.Close()
	k.finish()
	return errors.Join(errs...)
}

// stopServing stops accepting and the watchdog, and waits for them.
func (k *Keeper) stopServing() {
	k.once(func() { close(k.quit) })
	k.ln.SetDeadline(time.Now())
	k.wg.Wait()
}

func (k *Keeper) finish() {
	select {
	case <-k.done:
	default:
		close(k.done)
	}
}

// accept serves control connections, one request each, until quit.
func (k *Keeper) accept() {
	var reqs sync.WaitGroup
	defer reqs.Wait()
	for {
		c, err := k.ln.AcceptUnix()
		if err != nil {
			select {
			case <-k.quit:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			k.cfg.Log.Warn("keeper: accepting", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		reqs.Add(1)
		go func() { defer reqs.Done(); k.serveConn(c) }()
	}
}

// controlTimeout bounds a control request, from its arrival to the end
// of its answer (not a handover): a peer that says nothing, or reads
// nothing, cannot hold a request goroutine (and Close) for ever.
const controlTimeout = time.Minute

// refuseTimeout bounds the reading of a refused peer's request.
const refuseTimeout = 5 * time.Second

// serveConn answers one control request of an allowed peer.
func (k *Keeper) serveConn(c *net.UnixConn) {
	defer c.Close()
	if err := k.allow(c); err != nil {
		k.cfg.Log.Warn("keeper: refused a control connection", "err", err)
		// Read the request first (bounded): closing a socket with unread
		// data resets the peer, which then never reads why it was refused.
		c.SetDeadline(time.Now().Add(refuseTimeout))
		if _, files, err := recv(c); err == nil {
			closeAll(files)
		}
		sendWhole(c, message{Error: err.Error()})
		return
	}
	c.SetDeadline(time.Now().Add(controlTimeout))
	m, files, err := recv(c)
	closeAll(files)
	if err != nil {
		k.cfg.Log.Warn("keeper: reading a control request", "err", err)
		return
	}
	if m.Op == "handover" {
		c.SetDeadline(time.Time{}) // bounded by the mounts it sends
		k.handover(c, m.V)
		return
	}
	if err := k.answer(c, m); err != nil {
		k.cfg.Log.Warn("keeper: answering a control request", "op", m.Op, "target", m.Target, "err", err)
	}
}

// answer serves request m on c.
func (k *Keeper) answer(c *net.UnixConn, m message) error {
	switch m.Op {
	case "mount":
		f, existing, err := k.mount(m.Target, m.Name, m.Memo, peerPID(c))
		if err != nil {
			return send(c, message{Error: err.Error()})
		}
		defer f.Close()
		return send(c, message{Existing: existing}, f)
	case "memo":
		return k.reply(c, k.remember(m.Target, m.Memo))
	case "unmount":
		return k.reply(c, k.unmount(m.Target))
	case "list":
		return k.list(c, m.V)
	}
	return send(c, message{Error: fmt.Sprintf("keeper: unknown request %q (this keeper speaks control protocol %d)", m.Op, protocol)})
}

// reply answers a request whose only result is err.
func (k *Keeper) reply(c *net.UnixConn, err error) error {
	if err != nil {
		return send(c, message{Error: err.Error()})
	}
	return send(c, message{})
}

// list streams the mounts, one message each, then the end. A protocol 1
// client reads one message: it gets every mount in one, if that fits the
// socket, else an error saying why.
func (k *Keeper) list(c *net.UnixConn, version int) error {
	ms := k.Mounts()
	if version < 2 {
		err := sendWhole(c, message{Mounts: ms})
		if err == nil {
			return nil
		}
		return errors.Join(err, sendWhole(c, message{Error: fmt.Sprintf("keeper: the list of %d mounts does not fit one message of control protocol 1, "+
			"which the client speaks: upgrade it (protocol %d streams the list)", len(ms), protocol)}))
	}
	for i := range ms {
		if err := send(c, message{Mount: &ms[i]}); err != nil {
			return err
		}
	}
	return send(c, message{End: true, Count: len(ms)})
}

// allow admits a control connection only from root or the keeper's own
// user: List returns the memos, which may hold pod credentials. The
// socket's mode says so too; this holds even if the mode were wrong.
func (k *Keeper) allow(c *net.UnixConn) error {
	cred, err := peerCred(c)
	if err != nil {
		return fmt.Errorf("keeper: refused: the peer's credentials: %w", err)
	}
	if cred.Uid != 0 && int(cred.Uid) != os.Geteuid() {
		return fmt.Errorf("keeper: refused: uid %d (pid %d) is neither root nor the keeper's user", cred.Uid, cred.Pid)
	}
	return nil
}

// mount mounts target, or finds it mounted, and attaches a new server to
// it. It returns the server's end of the socket.
func (k *Keeper) mount(target, name string, memo []byte, pid int) (*os.File, bool, error) {
	if name == "" {
		name = "secretfs"
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.handedOver {
		return nil, false, ErrHandedOver
	}
	c, existing := k.conns[target]
	if !existing {
		var err error
		if c, err = k.newMount(target, name); err != nil {
			return nil, false, err
		}
	}
	kend, send, err := newSocketPair()
	if err != nil {
		return nil, false, fmt.Errorf("keeper: %w", err)
	}
	if memo != nil {
		c.setMemo(memo)
	}
	c.attach(kend, pid, k.cfg.HungAfter)
	return send, existing, nil
}

// remember replaces the memo of the mount at target.
func (k *Keeper) remember(target string, memo []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	c := k.conns[target]
	if c == nil {
		return fmt.Errorf("keeper: no mount at %s", target)
	}
	c.setMemo(memo)
	return nil
}

// newMount mounts a fresh FUSE connection at target. Must hold mu.
func (k *Keeper) newMount(target, name string) (*conn, error) {
	if err := unmountDead(target); err != nil {
		return nil, err
	}
	dev, err := mountFUSE(target, name)
	if err != nil {
		return nil, err
	}
	c := newConn(target, name, dev, k.cfg.Log)
	c.onEnd = k.forget
	k.conns[target] = c
	c.start()
	return c, nil
}

// forget drops a connection the kernel ended.
func (k *Keeper) forget(c *conn) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.conns[c.target] == c {
		delete(k.conns, c.target)
	}
}

// unmount unmounts target; a target not held is cleaned if dead, else
// left alone, so unmount is idempotent.
func (k *Keeper) unmount(target string) error {
	k.mu.Lock()
	c := k.conns[target]
	delete(k.conns, target)
	k.mu.Unlock()
	if c == nil {
		return unmountDead(target)
	}
	if err := unmount(target); err != nil {
		k.mu.Lock()
		if k.conns[target] == nil && !k.handedOver {
			k.conns[target] = c // still mounted: still ours
		}
		k.mu.Unlock()
		return err
	}
	k.ending.Add(1)
	go func() { defer k.ending.Done(); c.release(endWait) }()
	return nil
}

// endWait bounds how long an unmounted connection may live on before the
// keeper aborts it. The kernel ends it at once when the unmounted mount was
// its last; a copy in another mount namespace (a container runtime's,
// another pod's) keeps it alive for good.
const endWait = 2 * time.Second

// watchdog drops servers that leave a request unanswered past HungAfter.
func (k *Keeper) watchdog() {
	t := time.NewTicker(max(k.cfg.HungAfter/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-k.quit:
			return
		case now := <-t.C:
			k.mu.Lock()
			conns := make([]*conn, 0, len(k.conns))
			for _, c := range k.conns {
				conns = append(conns, c)
			}
			k.mu.Unlock()
			for _, c := range conns {
				k.checkHung(c, now)
			}
		}
	}
}

func (k *Keeper) checkHung(c *conn, now time.Time) {
	pid, hung := c.dropIfHung(now.Add(-k.cfg.HungAfter))
	if !hung {
		return
	}
	c.log.Warn("keeper: server hung; dropped it", "after", k.cfg.HungAfter, "pid", pid)
	if k.cfg.KillHung && pid > 0 && pid != os.Getpid() {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			c.log.Warn("keeper: killing the hung server", "pid", pid, "err", err)
		}
	}
}

const mountFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC

// mountFUSE opens /dev/fuse and mounts it at target, read-only. The kernel
// queues INIT at once; it waits for the first server.
func mountFUSE(target, name string) (*os.File, error) {
	fd, err := unix.Open("/dev/fuse", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("keeper: opening /dev/fuse: %w", err)
	}
	data := fmt.Sprintf("fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions", fd)
	if err := unix.Mount(name, target, "fuse."+name, mountFlags, data); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("keeper: mounting %s: %w", target, err)
	}
	return os.NewFile(uintptr(fd), "/dev/fuse"), nil
}

// unmount unmounts target, detaching it lazily if it is busy (a pod still
// has a file open: the volume is being torn down anyway).
func unmount(target string) error {
	err := unix.Unmount(target, 0)
	if errors.Is(err, unix.EBUSY) {
		err = unix.Unmount(target, unix.MNT_DETACH)
	}
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("keeper: unmounting %s: %w", target, err)
	}
	return nil
}

// unmountDead unmounts target if it is a FUSE mount whose connection is
// gone: what a dead keeper leaves behind. statfs always asks the server,
// so it says ENOTCONN; stat may answer from attributes cached for an hour.
func unmountDead(target string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); !errors.Is(err, unix.ENOTCONN) {
		return nil
	}
	if err := unix.Unmount(target, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("keeper: unmounting the dead mount at %s: %w", target, err)
	}
	return nil
}
