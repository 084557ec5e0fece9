//go:build linux

package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// The open protocol (without Options.NoOpen). Every open gets a handle on
// one immutable version and reads only it. While the kernel's cache holds
// exactly the current version (kern == cur), opens are answered
// FOPEN_KEEP_CACHE: reads are served from the page cache, and the pages the
// kernel asks for are that version's. After a rotation, handles still open on
// the old version keep reading it from the cache, so the cache must keep it:
// new opens are answered FOPEN_DIRECT_IO from their own snapshot, bypassing
// the cache, and attributes keep describing the old version (its size bounds
// the cached readers). When the last cached handle is released, a flip
// invalidates the kernel's attributes and pages (FUSE_NOTIFY_INVAL_INODE,
// synchronous) and only then makes kern = cur, so cached opens resume on the
// new version.

// snapshot is an open file: the version current at open time, kept (with
// a reference) until release.
type snapshot struct {
	f      *fileNode
	c      *content
	cached bool // answered FOPEN_KEEP_CACHE; counted in f.cachedOpen
}

var (
	_ fs.FileHandle   = (*snapshot)(nil)
	_ fs.FileReleaser = (*snapshot)(nil)
)

// attrs returns the version whose attributes the kernel may be told: kern
// when set (it bounds cached readers), else the current one. During a flip
// it is the current one: the flip's invalidation follows.
func (f *fileNode) attrs(ctx context.Context) (*content, syscall.Errno) {
	c, errno := f.current(ctx)
	if errno != 0 || f.t.opts.NoOpen {
		return c, errno
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if cur := f.cur.Load(); cur != nil {
		c = cur
	}
	switch {
	case f.flipping:
		return c, 0
	case f.kern == nil:
		f.kern = c
	}
	return f.kern, 0
}

// Open answers ENOSYS under Options.NoOpen, which switches the kernel to
// no_open for the whole connection: opens never reach us again. Otherwise it
// follows the open protocol above.
func (f *fileNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC) != 0 {
		return nil, 0, syscall.EROFS // only reachable through a private rw clone
	}
	if f.t.opts.NoOpen {
		return nil, 0, syscall.ENOSYS
	}
	c, errno := f.held(ctx)
	if errno != 0 {
		return nil, 0, errno
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if cur := f.cur.Load(); cur != nil && cur != c && cur.hold() {
		c.unref()
		c = cur
	}
	if f.kern == nil && !f.flipping {
		f.kern = c
	}
	if f.flipping || f.kern != c {
		return &snapshot{f: f, c: c}, fuse.FOPEN_DIRECT_IO | fuse.FOPEN_NOFLUSH, 0
	}
	f.cachedOpen++
	return &snapshot{f: f, c: c, cached: true}, fuse.FOPEN_KEEP_CACHE | fuse.FOPEN_NOFLUSH, 0
}

// Release ends a handle; the last cached handle of an outdated version
// flips the kernel to the current one.
func (s *snapshot) Release(ctx context.Context) syscall.Errno {
	defer s.c.unref()
	if s.cached {
		s.f.mu.Lock()
		s.f.cachedOpen--
		s.f.mu.Unlock()
		s.f.maybeFlip()
	}
	return 0
}

// changed brings the kernel up to date after cur was replaced: at once
// under NoOpen (readers straddling the change may tear), else by a flip
// when no cached handle reads the old version.
func (f *fileNode) changed() {
	if f.t.opts.NoOpen {
		f.NotifyContent(0, 0)
		return
	}
	f.maybeFlip()
}

// maybeFlip flips if the kernel holds an outdated version that no cached
// handle reads and no flip is running.
func (f *fileNode) maybeFlip() {
	f.mu.Lock()
	start := !f.flipping && f.cachedOpen == 0 && f.kern != nil && f.kern != f.cur.Load()
	if start {
		f.flipping = true
	}
	f.mu.Unlock()
	if start {
		f.flip()
	}
}

// flip invalidates the kernel's attributes and pages of this file, then
// records that it holds the version current before the invalidation;
// again if cur moved meanwhile. No cached opens are granted while it runs,
// so nothing can repopulate the cache with another version.
func (f *fileNode) flip() {
	f.flipMu.Lock()
	defer f.flipMu.Unlock()
	for {
		f.mu.Lock()
		target := f.cur.Load()
		f.mu.Unlock()
		f.NotifyContent(0, 0) // outside mu: the kernel may wait for READs
		f.mu.Lock()
		f.kern = target
		again := f.cur.Load() != target
		if !again {
			f.flipping = false
		}
		f.mu.Unlock()
		if !again {
			return
		}
	}
}
