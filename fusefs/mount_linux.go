//go:build linux

package fusefs

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/secretfs/secretfs/fusefs/fusectl"
)

// Server is one served secretfs file system: a mount made by Mount, or a
// handed-over connection served by Serve. (The type cannot be called Mount:
// that is the function's name.)
type Server struct {
	target string // mount point, or the "/dev/fd/N" a served connection came as
	served bool   // true for Serve: the mount point belongs to someone else
	srv    *fuse.Server
	t      *tree
	ctx    context.Context // for Source reads made by Changed; ends with the server
	cancel context.CancelFunc
	done   chan struct{} // closed when the server stopped
	// dev is the mount's device number, to recognise it again when
	// touching (0 for a served connection, which is never touched).
	dev uint64
	// touches tells inotify watchers about changes; nil when served.
	touches *toucher

	mu        sync.Mutex // guards unmounted; serialises Unmount
	unmounted bool
}

// Mount mounts files at target, read-only, and returns when the kernel has
// answered INIT. Files are read from src lazily, on first lookup.
func Mount(target string, files []File, src Source, opts Options) (*Server, error) {
	return start(target, false, files, src, opts)
}

// Serve serves an already-mounted FUSE connection handed over as
// "/dev/fd/N" (its owner mounted it with fd=N). It returns when INIT was
// answered; the owner unmounts it, which ends the server (see Wait).
//
// Unlike Mount it cannot run go-fuse's poll hack (the mount point is not
// known): a process that serves a connection and also opens files on it
// with os.Open must first poll(2) one file there, or Go's epoll
// registration can deadlock against its own server. The keeper's server
// does not read its mounts; tests do (learnNoPoll).
func Serve(devFD string, files []File, src Source, opts Options) (*Server, error) {
	if fd := parseDevFD(devFD); fd < 0 {
		return nil, fmt.Errorf("fusefs: serve %q: want the form /dev/fd/N", devFD)
	}
	return start(devFD, true, files, src, opts)
}

func start(target string, served bool, files []File, src Source, opts Options) (*Server, error) {
	l, err := planLayout(files)
	if err != nil {
		return nil, fmt.Errorf("fusefs: mount %s: %w", target, err)
	}
	opts = opts.withDefaults()
	t := &tree{
		src: src, opts: opts, layout: l,
		byIno: map[uint64]*fs.Inode{},
		files: map[string]*fileNode{},
		dirs:  map[string]*dirNode{},
	}
	srv, err := fuse.NewServer(fs.NewNodeFS(&rootNode{dirNode{t: t}}, fsOptions(opts, served)), target, mountOptions(opts, served))
	if err != nil {
		return nil, fmt.Errorf("fusefs: mount %s: %w", target, err)
	}
	m := newMount(target, served, srv, t)
	if err := srv.WaitMount(); err != nil {
		m.abandon()
		return nil, fmt.Errorf("fusefs: mount %s: waiting for the kernel: %w", target, err)
	}
	if served {
		return m, nil
	}
	if m.dev, err = makeReadOnly(target); err != nil {
		m.abandon()
		return nil, fmt.Errorf("fusefs: mount %s: %w", target, err)
	}
	m.touches = newToucher(m.touchAt, m.logTouch, m.done)
	return m, nil
}

// abandon undoes a mount that failed after mount(2) (e.g. a target that is
// a regular file: the kernel mounts over it and INIT then fails), so no
// half-made, read-write mount is left over the target. A served
// connection's mount belongs to its owner, who unmounts it; its server
// only stops.
func (m *Server) abandon() {
	m.cancel()
	if m.served {
		return
	}
	if err := syscall.Unmount(m.target, 0); err != nil {
		// Busy (something opened it meanwhile): detach it all the same.
		if syscall.Unmount(m.target, syscall.MNT_DETACH) != nil {
			return // not mounted after all: nothing to wait for
		}
	}
	m.Wait()
}

// publicFlags are the flags of the mount everyone sees.
const publicFlags = syscall.MS_NOSUID | syscall.MS_NODEV | syscall.MS_NOEXEC

// makeReadOnly makes the fresh mount at target read-only, as a mount flag:
// the superblock stays writable, so touch can write through a private
// clone, while the mount everyone sees (and every bind mount made from it)
// is not. It returns the mount's device number.
func makeReadOnly(target string) (uint64, error) {
	if err := syscall.Mount("", target, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY|publicFlags, ""); err != nil {
		return 0, fmt.Errorf("making it read-only: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Stat(target, &st); err != nil {
		return 0, fmt.Errorf("stat after mounting: %w", err)
	}
	return st.Dev, nil
}

// newMount starts the server loop and its watcher; both end when the
// connection ends (Unmount, or an umount from outside).
func newMount(target string, served bool, srv *fuse.Server, t *tree) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	m := &Server{target: target, served: served, srv: srv, t: t, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	go srv.Serve()
	go func() {
		srv.Wait()
		cancel()
		t.lent.close() // nothing reads lent bytes once the server stopped
		close(m.done)
	}()
	return m
}

// fsOptions sets the kernel cache policy: long timeouts (Changed pushes
// every change), no negative entries, and inode numbers that are nodeids.
func fsOptions(opts Options, served bool) *fs.Options {
	timeout := opts.Timeout
	return &fs.Options{
		MountOptions: *mountOptions(opts, served),
		EntryTimeout: &timeout,
		AttrTimeout:  &timeout,
		// No negative caching: ENOENT may be a Source's transient "object
		// missing", which must not stick for an hour.
		// nodeid == Ino(path): a server restarted on a kept connection
		// resolves the kernel's nodeids (rootNode.LookupNode).
		ExternalNodeID: true,
		RootStableAttr: &fs.StableAttr{Ino: RootIno, Mode: syscall.S_IFDIR},
		// Modes are exactly File.Mode: go-fuse would turn 0 into 0644.
		NullPermissions: true,
	}
}

// mountOptions: read-only, nosuid, nodev, noexec, allow_other with the
// kernel checking permissions, and no READDIRPLUS so listing a directory
// never loads file bytes.
func mountOptions(opts Options, served bool) *fuse.MountOptions {
	return &fuse.MountOptions{
		AllowOther:         true,
		FsName:             opts.Name,
		Name:               defaultName,
		Options:            []string{"default_permissions"},
		DirectMount:        !served,
		DirectMountStrict:  !served,
		DirectMountFlags:   publicFlags, // read-only comes with makeReadOnly
		DisableReadDirPlus: true,
		DisableXAttrs:      true,
		// A served connection may be forwarded through a socket by the
		// keeper, where spliced replies arrive split (facts.md).
		DisableSplice: served,
		Debug:         opts.Debug,
		// Also max_read. Each request reader holds a buffer this large:
		// 64 KiB keeps a volume under 100 KiB of memory (go-fuse's 128 KiB
		// default measured ~118 KiB) and still reads a Key Vault secret
		// (≤ 25 KiB) in one READ.
		MaxWrite: 64 << 10,
	}
}

// Changed tells the mount that path's content changed. It re-reads the file
// from the Source (if it was ever loaded) and swaps it in place: the inode
// stays the same, so bind mounts follow. When it returns, every new open
// reads the new version. The kernel's cached attributes and pages are
// dropped now, or, while an open of the old version still reads them, when
// it is closed (package doc). Then, asynchronously, the file's times are set
// to the new version's mtime, so inotify watchers of the file and of its
// directory get IN_ATTRIB (fsnotify: Chmod).
func (m *Server) Changed(p string) {
	f := m.t.files[p]
	if f == nil {
		return
	}
	if !f.reload(m.ctx) {
		return // never looked up: the kernel holds nothing of it
	}
	// Outside every lock of ours: the kernel may wait for READs in
	// flight, which this server must answer meanwhile.
	f.changed()
	if m.touches != nil {
		m.touches.add(f)
	}
}

// logTouch logs a failed touch. The content is already current; only the
// watchers' event is lost.
func (m *Server) logTouch(p string, err error) {
	log.Printf("fusefs: %s: telling watchers about %q: %v", m.target, p, err)
}

// touchAt sets p's times to mtime through a private read-write clone of
// the mount, made for the occasion: a clone kept open would keep the
// connection alive after an umount from outside.
func (m *Server) touchAt(p string, mtime time.Time) error {
	fd, err := unix.OpenTree(unix.AT_FDCWD, m.target, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return fmt.Errorf("cloning the mount: %w", err)
	}
	defer unix.Close(fd)
	// Only ever write to this mount: the target may have been unmounted
	// or covered since.
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Dev != m.dev || st.Ino != RootIno {
		return fmt.Errorf("%s is no longer this mount (stat: %v)", m.target, err)
	}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_RDONLY}); err != nil {
		return fmt.Errorf("making the clone writable: %w", err)
	}
	ts := unix.NsecToTimespec(mtime.UnixNano())
	err = unix.UtimesNanoAt(fd, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, syscall.EROFS) {
		return nil // a newer Changed swapped again; it touches too
	}
	return err
}

// Unmount unmounts the file system and waits for the server to stop. It is
// idempotent, and a no-op if the mount was already unmounted from outside.
// It fails while files on the mount are open (the kernel says EBUSY). A
// connection another mount namespace keeps alive is aborted (awaitEnd):
// Unmount returns within a bound either way.
func (m *Server) Unmount() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.unmounted || m.stopped() {
		m.unmounted = true
		return nil
	}
	if m.touches != nil {
		m.touches.close() // it may hold a clone, which keeps the connection alive
	}
	if m.served {
		return fmt.Errorf("fusefs: %s is a handed-over connection: unmount its mount point instead (then Wait): %w", m.target, errors.ErrUnsupported)
	}
	if err := syscall.Unmount(m.target, 0); err != nil {
		if errors.Is(err, syscall.EBUSY) {
			return fmt.Errorf("fusefs: unmount %s: target is busy (a file on it is still open, or something is mounted under it): %w", m.target, err)
		}
		return fmt.Errorf("fusefs: unmount %s: %w", m.target, err)
	}
	m.unmounted = true
	m.awaitEnd()
	return nil
}

// endWait bounds how long an unmounted connection may live on before it
// is aborted. The kernel ends it at once when the unmounted mount was its
// last; a copy in another mount namespace keeps it alive for good.
const endWait = 2 * time.Second

// awaitEnd waits for the server to stop after the umount. When another
// mount namespace still holds a copy of the mount, the kernel never ends
// the connection: after endWait it is aborted through fusectl, so the
// server stops and the copies answer ENOTCONN instead of being served by a
// process that has forgotten the volume.
func (m *Server) awaitEnd() {
	select {
	case <-m.done:
		return
	case <-time.After(endWait):
	}
	log.Printf("fusefs: %s: the connection outlived its unmount (a copy of the mount in another mount namespace): aborting it", m.target)
	if err := fusectl.Abort(m.dev); err != nil {
		log.Printf("fusefs: %s: %v; the server stops when the last copy is unmounted", m.target, err)
		return
	}
	select {
	case <-m.done:
	case <-time.After(endWait):
		log.Printf("fusefs: %s: the server has not stopped %v after its connection was aborted", m.target, endWait)
	}
}

func (m *Server) stopped() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// Wait blocks until the server stops: after Unmount, or when the file
// system was unmounted from outside (umount).
func (m *Server) Wait() {
	<-m.done
}
