//go:build linux

package fusefs

import (
	"context"
	"errors"
	"log"
	"os"
	"path"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// tree is what every node of one mount shares. It is immutable after
// OnAdd, so it needs no lock.
type tree struct {
	src    Source
	opts   Options
	layout *layout
	byIno  map[uint64]*fs.Inode // every node, for LookupNode
	files  map[string]*fileNode // every file, for Changed
	dirs   map[string]*dirNode  // every directory, for building the tree

	// lent tracks the contents whose bytes are lent by the Source (a
	// Lender), so the server gives back what the kernel never released
	// (an aborted connection sends no RELEASE).
	lent lentSet
}

// content is one immutable version of a file. A pointer to it is swapped
// whole, so a reader holding one never sees another version's bytes.
type content struct {
	data  []byte
	mtime time.Time
	// refs counts who may still read data: the file while this is its
	// current version, each open handle on it, each NoOpen read in
	// flight. At zero, lent bytes go back to the Source, which may zero
	// them; so data is read only under a reference.
	refs atomic.Int64
	set  *lentSet // nil: the bytes are this content's own (a copy)
}

// hold takes a reference, unless the content was already let go.
func (c *content) hold() bool {
	for {
		n := c.refs.Load()
		if n <= 0 {
			return false
		}
		if c.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// unref drops a reference; the last one gives lent bytes back.
func (c *content) unref() {
	if c.refs.Add(-1) == 0 && c.set != nil {
		c.set.giveBack(c)
	}
}

// lentSet holds the release functions of a tree's lent contents.
type lentSet struct {
	mu     sync.Mutex
	live   map[*content]func() // guarded by mu
	closed bool                // guarded by mu: the server stopped
}

// add records c's release; after close it releases at once and fails.
func (s *lentSet) add(c *content, release func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		release()
		return false
	}
	if s.live == nil {
		s.live = map[*content]func(){}
	}
	s.live[c] = release
	c.set = s
	return true
}

// giveBack releases c's bytes, once.
func (s *lentSet) giveBack(c *content) {
	s.mu.Lock()
	release := s.live[c]
	delete(s.live, c)
	s.mu.Unlock()
	if release != nil {
		release()
	}
}

// close releases every lent content: the server stopped, so nothing reads
// them any more.
func (s *lentSet) close() {
	s.mu.Lock()
	live := s.live
	s.live, s.closed = nil, true
	s.mu.Unlock()
	for _, release := range live {
		release()
	}
}

// dirNode is the root or a history directory. It implements no Open:
// OPENDIR gets go-fuse's default handle. The listing is the fixed set of
// children less the optional files that do not exist now (no READDIRPLUS,
// so listing loads no other file).
type dirNode struct {
	fs.Inode
	t *tree
}

var (
	_ fs.NodeReaddirer = (*dirNode)(nil)
	_ fs.NodeLookuper  = (*dirNode)(nil)
	_ fs.NodeGetattrer = (*dirNode)(nil)
	_ fs.NodeStatfser  = (*dirNode)(nil)
	_ fs.NodeFsyncer   = (*dirNode)(nil)
)

// rootNode is the root directory; it builds the tree and revives nodes.
type rootNode struct {
	dirNode
}

var (
	_ fs.NodeOnAdder     = (*rootNode)(nil)
	_ fs.NodeLookupNoder = (*rootNode)(nil)
)

// OnAdd builds the whole tree under the root: names are known up front,
// only file bytes are lazy.
func (r *rootNode) OnAdd(ctx context.Context) {
	t := r.t
	t.byIno[RootIno] = r.EmbeddedInode()
	t.dirs[""] = &r.dirNode
	for _, e := range t.layout.entries[1:] {
		parent := t.dirs[parentOf(e.path)]
		var node fs.InodeEmbedder
		mode := uint32(syscall.S_IFREG)
		if e.dir {
			dn := &dirNode{t: t}
			t.dirs[e.path] = dn
			node, mode = dn, syscall.S_IFDIR
		} else {
			fn := &fileNode{t: t, path: e.path, perm: uint32(e.perm), optional: e.optional}
			t.files[e.path] = fn
			node = fn
		}
		child := parent.NewPersistentInode(ctx, node, fs.StableAttr{Mode: mode, Ino: Ino(e.path)})
		parent.AddChild(path.Base(e.path), child, false)
		t.byIno[Ino(e.path)] = child
	}
}

// parentOf is the path of p's directory; "" for the root.
func parentOf(p string) string {
	if dir := path.Dir(p); dir != "." {
		return dir
	}
	return ""
}

// Lookup resolves a name and, for a file, loads its bytes: the kernel needs
// the size in the reply, and a Source error must fail the lookup rather than
// produce an empty file.
func (d *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	child := d.GetChild(name)
	if child == nil {
		return nil, syscall.ENOENT
	}
	return child, fillEntry(ctx, child, &out.Attr)
}

// Readdir lists the children, leaving out optional files that do not exist
// now: a history directory grows as versions appear. The kernel does not
// cache listings (no FOPEN_CACHE_DIR), so each listing asks again.
func (d *dirNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	children := d.Children()
	list := make([]fuse.DirEntry, 0, len(children))
	for name, child := range children {
		if fn, ok := child.Operations().(*fileNode); ok && fn.optional && !fn.exists(ctx) {
			continue
		}
		list = append(list, fuse.DirEntry{Name: name, Mode: child.Mode(), Ino: child.StableAttr().Ino})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return fs.NewListDirStream(list), 0
}

// LookupNode revives a node from its nodeid alone, which is what a server
// started on a kept /dev/fuse connection is asked for.
func (r *rootNode) LookupNode(ctx context.Context, id uint64, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	n := r.t.byIno[id]
	if n == nil {
		return nil, syscall.ENOENT
	}
	return n, fillEntry(ctx, n, &out.Attr)
}

// fillEntry fills the attributes of a node returned by a lookup.
func fillEntry(ctx context.Context, n *fs.Inode, a *fuse.Attr) syscall.Errno {
	switch op := n.Operations().(type) {
	case *fileNode:
		c, errno := op.attrs(ctx)
		if errno != 0 {
			return errno
		}
		op.fill(c, a)
	case *dirNode:
		op.fill(a)
	case *rootNode:
		op.fill(a)
	}
	return 0
}

// Getattr answers for a directory: read-only, owned by root.
func (d *dirNode) Getattr(ctx context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	d.fill(&out.Attr)
	return 0
}

func (d *dirNode) fill(a *fuse.Attr) {
	a.Mode = syscall.S_IFDIR | 0o555
	a.Nlink = 2
	a.Ino = d.StableAttr().Ino
	a.Owner = fuse.Owner{Uid: 0, Gid: 0}
}

// Statfs reports an empty, read-only file system rather than ENOSYS, so df
// and statvfs-based checks work.
func (d *dirNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	out.Bsize = 4096
	out.NameLen = 255
	out.Frsize = 4096
	return 0
}

// Fsync answers 0, as tmpfs does: there is nothing to write back, and
// programs that sync what they read (or a directory after listing it)
// must not fail with EOPNOTSUPP, go-fuse's default.
func (d *dirNode) Fsync(ctx context.Context, _ fs.FileHandle, flags uint32) syscall.Errno {
	return 0
}

// fileNode is one file. Its bytes are loaded on first lookup and replaced
// in place by Changed: the inode never changes, so a single file
// bind-mounted elsewhere (kubelet's subPath) sees new versions.
type fileNode struct {
	fs.Inode
	t        *tree
	path     string
	perm     uint32
	optional bool // may not exist (File.Optional)

	// loadMu serialises Source reads of this file, so a lazy load that
	// started before a change cannot install older bytes after it. It is
	// never held while notifying the kernel, and Read never takes it.
	loadMu sync.Mutex
	// cur is the version served to new opens; nil until loaded or after a
	// failed reload. Written under loadMu, read lock-free.
	cur atomic.Pointer[content]

	// flipMu serialises flips and touches of this file, so a SETATTR
	// reply (which the kernel applies unconditionally) never lands after
	// a flip's invalidation. Taken before mu. Its holder waits for READ
	// and SETATTR replies, so their handlers never take it (go-fuse
	// always keeps a goroutine reading requests).
	flipMu sync.Mutex
	// mu guards the kernel-cache state below. Never held while notifying.
	mu sync.Mutex
	// kern is the version whose attributes and pages the kernel may hold
	// (nil: none). Without NoOpen it lags cur while cached opens of it
	// remain (see the package doc).
	kern *content
	// cachedOpen counts open handles reading through the page cache; all
	// of them read kern.
	cachedOpen int
	// flipping: an invalidation from kern towards cur is running; no
	// cached opens are granted meanwhile.
	flipping bool
}

var (
	_ fs.NodeGetattrer = (*fileNode)(nil)
	_ fs.NodeOpener    = (*fileNode)(nil)
	_ fs.NodeReader    = (*fileNode)(nil)
	_ fs.NodeFlusher   = (*fileNode)(nil)
	_ fs.NodeSetattrer = (*fileNode)(nil)
	_ fs.NodeFsyncer   = (*fileNode)(nil)
)

// current returns the served version, loading it from the Source first.
func (f *fileNode) current(ctx context.Context) (*content, syscall.Errno) {
	if c := f.cur.Load(); c != nil {
		return c, 0
	}
	f.loadMu.Lock()
	defer f.loadMu.Unlock()
	if c := f.cur.Load(); c != nil {
		return c, 0
	}
	c, errno := f.fetch(ctx)
	if errno == 0 {
		f.cur.Store(c)
	}
	return c, errno
}

// exists reports whether the file can be read now: anything but ENOENT
// (any other error is the reader's to see).
func (f *fileNode) exists(ctx context.Context) bool {
	_, errno := f.current(ctx)
	return errno != syscall.ENOENT
}

// reload re-reads a loaded file after a change. It reports whether the
// kernel may hold anything of this file (false if it was never loaded). A
// failed read drops the old version, so the next access retries the Source
// and reports its error: the Source, not this package, decides how long a
// stale version may be served.
func (f *fileNode) reload(ctx context.Context) bool {
	f.loadMu.Lock()
	defer f.loadMu.Unlock()
	if f.cur.Load() == nil {
		return false
	}
	c, errno := f.fetch(ctx)
	if errno != 0 {
		c = nil
	}
	if old := f.cur.Swap(c); old != nil {
		old.unref()
	}
	return true
}

// fetch reads the file from the Source, borrowing the bytes from a Lender.
// The content returned holds one reference, the file's. Must hold loadMu.
func (f *fileNode) fetch(ctx context.Context) (*content, syscall.Errno) {
	c := &content{mtime: time.Now()}
	c.refs.Store(1)
	var err error
	if l, ok := f.t.src.(Lender); ok {
		var release func()
		if c.data, release, err = l.Lend(ctx, f.path); err == nil && !f.t.lent.add(c, release) {
			return nil, syscall.EIO // the server stopped meanwhile
		}
	} else {
		c.data, err = f.t.src.Read(ctx, f.path)
	}
	if err != nil {
		errno := toErrno(err)
		if f.optional && errno == syscall.ENOENT {
			return nil, errno // a history entry that does not exist yet: not a failure
		}
		// The error text may carry vault output: log the class only.
		log.Printf("fusefs: reading %q from the source failed: %v", f.path, errno)
		return nil, errno
	}
	return c, 0
}

// held returns the current version with a reference taken, loading it
// first: a change may let go of the version cur held meanwhile.
func (f *fileNode) held(ctx context.Context) (*content, syscall.Errno) {
	for {
		c, errno := f.current(ctx)
		if errno != 0 || c.hold() {
			return c, errno
		}
	}
}

// toErrno maps Source errors to what a reader sees.
func toErrno(err error) syscall.Errno {
	switch {
	case errors.Is(err, os.ErrPermission):
		return syscall.EACCES
	case errors.Is(err, os.ErrNotExist):
		return syscall.ENOENT
	default:
		return syscall.EIO
	}
}

// Getattr answers with the version the kernel caches (see attrs), for any
// handle: the kernel keeps these attributes for everyone.
func (f *fileNode) Getattr(ctx context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	c, errno := f.attrs(ctx)
	if errno != 0 {
		return errno
	}
	f.fill(c, &out.Attr)
	return 0
}

func (f *fileNode) fill(c *content, a *fuse.Attr) {
	a.Mode = syscall.S_IFREG | f.perm
	a.Size = uint64(len(c.data))
	a.Blocks = (a.Size + 511) / 512
	a.Blksize = 4096
	a.Nlink = 1
	a.Ino = f.StableAttr().Ino
	a.Owner = fuse.Owner{Uid: 0, Gid: 0}
	a.SetTimes(&c.mtime, &c.mtime, &c.mtime)
}

// Flush answers ENOSYS so the kernel stops sending FLUSH on close
// (no_flush): nothing is ever written.
func (f *fileNode) Flush(ctx context.Context, _ fs.FileHandle) syscall.Errno {
	return syscall.ENOSYS
}

// Fsync answers 0, as tmpfs does: nothing is ever written (see dirNode.Fsync).
func (f *fileNode) Fsync(ctx context.Context, _ fs.FileHandle, flags uint32) syscall.Errno {
	return 0
}

// Read serves the open's snapshot, or the current version under no_open.
func (f *fileNode) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if s, ok := fh.(*snapshot); ok {
		return s.c.read(dest, off), 0
	}
	c, errno := f.held(ctx)
	if errno != 0 {
		return nil, errno
	}
	defer c.unref()
	return c.read(dest, off), 0
}

// read copies the bytes at off into dest; past the end it returns none,
// which the reader sees as EOF. It copies because the reply is written
// after Read returns, when the reference that kept lent bytes valid may
// be gone.
func (c *content) read(dest []byte, off int64) fuse.ReadResult {
	if off < 0 || off >= int64(len(c.data)) {
		return fuse.ReadResultData(nil)
	}
	n := copy(dest, c.data[off:])
	return fuse.ReadResultData(dest[:n])
}

// Setattr refuses every change (EROFS) but one: the touch by which Changed
// makes the kernel tell inotify watchers (IN_ATTRIB on the file and its
// directory), setting the times to the current version's mtime. The
// public mount is read-only, so only this process, through its private
// read-write clone of the mount, can get here at all; the mtime check is
// a second fence.
func (f *fileNode) Setattr(ctx context.Context, _ fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	c := f.cur.Load()
	if c == nil || !isTouch(in, c.mtime) {
		return syscall.EROFS
	}
	// The reply updates the kernel's attributes unconditionally, so it
	// must be what the kernel may cache; touches never overlap a flip.
	a, errno := f.attrs(ctx)
	if errno != 0 {
		return errno
	}
	f.fill(a, &out.Attr)
	return 0
}

// isTouch reports whether in only sets times, with mtime equal to want.
func isTouch(in *fuse.SetAttrIn, want time.Time) bool {
	const changes = fuse.FATTR_MODE | fuse.FATTR_UID | fuse.FATTR_GID | fuse.FATTR_SIZE
	mtime, ok := in.GetMTime()
	return ok && in.Valid&changes == 0 && mtime.Equal(want)
}
