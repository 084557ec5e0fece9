//go:build linux

package keeper

import (
	"errors"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// conn is one mount: the kernel's /dev/fuse connection and, when one is
// attached, the server serving it. Lock order: conn.mu, then nothing.
// Writes to /dev/fuse never block for long (the kernel only copies a
// reply), so they may happen under mu; notifications, which can wait for
// READs in flight, go through the notes queue instead.
type conn struct {
	target string
	name   string
	dev    *os.File // /dev/fuse, non-blocking
	devRC  syscall.RawConn
	log    *slog.Logger
	notes  *queue         // notifications from the server, in order
	wg     sync.WaitGroup // the kernel reader, server readers, revivals, the notifier
	gone   chan struct{}  // closed when the kernel ended the connection
	onEnd  func(*conn)    // called when the kernel ended the connection
	// kernelDone is closed when the kernel reader returned.
	kernelDone chan struct{}
	// aborted: abort closed dev; its errors are expected.
	aborted atomic.Bool

	mu sync.Mutex
	// init is the INIT request, kept once answered, to replay.
	init []byte
	// reqs are the kernel's unanswered requests by unique.
	reqs map[uint64]*request
	// kernel counts the lookups the kernel holds per nodeid; server counts
	// those the attached server holds (never more than the kernel's).
	kernel, server map[uint64]uint64
	// handles are the open files and directories by the handle the kernel
	// knows (the keeper's); next is the last one issued.
	handles map[uint64]*handle
	next    uint64
	// srv is the attached server or nil; gen numbers attachments.
	srv *server
	gen uint64
	// calls are the keeper's own requests (revivals) awaiting replies.
	calls    map[uint64]chan []byte
	nextCall uint64
	// stopped: handed over; nothing more is read or written.
	stopped bool
	// memo is the server's opaque memo (MountInfo.Memo): may hold
	// credentials, so it is never logged.
	memo []byte
}

// request is an unanswered kernel request. gen is the attachment it was
// sent to (0: not sent), sent when.
type request struct {
	msg    []byte
	op     uint32
	nodeid uint64
	gen    uint64
	sent   time.Time
}

// handle is an open file or directory: the OPEN that made it, and the
// handle of the server attachment gen (a failed re-open leaves gen stale).
type handle struct {
	nodeid uint64
	open   []byte
	sfh    uint64
	gen    uint64
}

// server is one attached server.
type server struct {
	f       *os.File // the keeper's end of the socket pair, non-blocking
	rc      syscall.RawConn
	gen     uint64
	pid     int // the peer, if known (watchdog); 0 otherwise
	ready   bool
	done    chan struct{} // closed when its reader returned
	revived chan struct{} // closed when revival ended, either way
}

// callBit marks the keeper's own uniques; the kernel's stay far below it.
const callBit = 1 << 62

func newConn(target, name string, dev *os.File, log *slog.Logger) *conn {
	return &conn{
		target: target, name: name, dev: dev, devRC: rawConn(dev),
		log:   log.With("target", target),
		notes: newQueue(),
		gone:  make(chan struct{}), kernelDone: make(chan struct{}),
		reqs: map[uint64]*request{}, kernel: map[uint64]uint64{}, server: map[uint64]uint64{},
		handles: map[uint64]*handle{}, calls: map[uint64]chan []byte{},
	}
}

// start runs the kernel reader and the notifier.
func (c *conn) start() {
	c.wg.Add(2)
	go func() { defer c.wg.Done(); defer close(c.kernelDone); c.readKernel() }()
	go func() { defer c.wg.Done(); c.notes.drain(c.writeKernel) }()
}

// readKernel forwards the kernel's requests until the connection ends
// (unmount, abort) or a handover stops it.
func (c *conn) readKernel() {
	for {
		err := readMsg(c.devRC, c.fromKernel)
		switch {
		case err == nil, errors.Is(err, unix.ENOENT):
		case errors.Is(err, os.ErrDeadlineExceeded):
			return
		default:
			if !errors.Is(err, unix.ENODEV) && !c.aborted.Load() {
				c.log.Warn("keeper: reading /dev/fuse", "err", err)
			}
			c.end()
			return
		}
	}
}

// release waits up to wait for the kernel to end the connection after its
// mount was unmounted, then aborts it if it lives on: only a copy of the
// mount in another mount namespace keeps it alive, and nothing will serve
// it again. Closing the keeper's /dev/fuse descriptor, the connection's
// last, makes the kernel abort it (fuse_dev_release): the copies answer
// ENOTCONN and the server is told by EOF. It returns when every goroutine
// of the connection did.
func (c *conn) release(wait time.Duration) {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-c.gone:
	case <-t.C:
		c.log.Info("keeper: the unmounted connection lives on (a copy of the mount in another mount namespace): aborting it")
		c.abort()
	}
	c.wg.Wait()
}

// abort closes /dev/fuse: the kernel aborts the connection and the kernel
// reader ends it here.
func (c *conn) abort() {
	c.aborted.Store(true)
	if err := c.dev.Close(); err != nil {
		c.log.Warn("keeper: closing /dev/fuse to abort the connection", "err", err)
	}
}

// end is the kernel's end of the connection: the server is told by EOF.
func (c *conn) end() {
	c.mu.Lock()
	s := c.srv
	c.srv = nil
	c.mu.Unlock()
	if s != nil {
		s.shutdown()
	}
	c.notes.close()
	close(c.gone)
	if c.onEnd != nil {
		c.onEnd(c)
	}
}

// fromKernel handles one request; m is only valid during the call.
func (c *conn) fromKernel(m []byte) {
	h, ok := parseIn(m)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch h.opcode {
	case opForget:
		c.forget(m)
	case opBatchForget:
		c.batchForget(m)
	case opInterrupt:
		if c.srv != nil && c.srv.ready {
			c.toServer(append([]byte(nil), m...))
		}
	case opNotifyReply:
	default:
		r := &request{msg: append([]byte(nil), m...), op: h.opcode, nodeid: h.nodeid}
		c.reqs[h.unique] = r
		if c.srv != nil && c.srv.ready {
			c.send(h.unique, r)
		}
	}
}

// send forwards request r to the attached server, its handles translated.
// Requests the server cannot answer (a node or handle it failed to revive)
// are answered here. Must hold mu; the server must be ready.
func (c *conn) send(unique uint64, r *request) {
	if r.nodeid > 1 && c.kernel[r.nodeid] > 0 && c.server[r.nodeid] == 0 {
		c.answer(unique, unix.EIO)
		return
	}
	out := r.msg
	if offs := requestFHs(r.op, r.msg); len(offs) > 0 {
		out = append([]byte(nil), r.msg...)
		for _, off := range offs {
			h := c.handles[le.Uint64(r.msg[off:])]
			if h == nil || h.gen != c.gen {
				c.answerStale(unique, r)
				return
			}
			le.PutUint64(out[off:], h.sfh)
		}
	}
	r.gen, r.sent = c.gen, time.Now()
	c.toServer(out)
}

// answerStale answers a request on a handle the server does not have: a
// release is done, anything else fails.
func (c *conn) answerStale(unique uint64, r *request) {
	if r.op == opRelease || r.op == opReleasedir {
		delete(c.handles, le.Uint64(r.msg[inHeaderLen:]))
		c.answer(unique, 0)
		return
	}
	c.answer(unique, unix.EIO)
}

// answer replies to a kernel request without the server. Must hold mu.
func (c *conn) answer(unique uint64, errno syscall.Errno) {
	delete(c.reqs, unique)
	c.writeKernel(errorReply(unique, int32(errno)))
}

// toServer writes m to the attached server; a server that cannot take it
// is dropped (its requests wait for the next). Must hold mu.
func (c *conn) toServer(m []byte) {
	if err := writeMsg(c.srv.rc, m); err != nil {
		if errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET) {
			c.log.Info("keeper: server went away; requests wait for the next")
		} else {
			c.log.Warn("keeper: server does not take requests; dropping it", "err", err)
		}
		c.dropLocked()
	}
}

// dropLocked detaches the server: its socket is shut down, so it sees EOF,
// and its reader drains what it already wrote. Must hold mu.
func (c *conn) dropLocked() {
	if c.srv == nil {
		return
	}
	c.srv.shutdown()
	c.srv = nil
	for u, ch := range c.calls {
		close(ch)
		delete(c.calls, u)
	}
}

// forget shrinks a FORGET so the server never forgets more than it holds,
// nor everything while the kernel still holds some. Must hold mu.
func (c *conn) forget(m []byte) {
	h, _ := parseIn(m)
	if len(m) < inHeaderLen+8 {
		return
	}
	n := c.forgetCount(h.nodeid, le.Uint64(m[inHeaderLen:]))
	if n == 0 || c.srv == nil || !c.srv.ready {
		return
	}
	out := append([]byte(nil), m...)
	le.PutUint64(out[inHeaderLen:], n)
	c.toServer(out)
}

// batchForget is forget for a BATCH_FORGET: count u32, dummy u32, then
// (nodeid, nlookup) pairs. Must hold mu.
func (c *conn) batchForget(m []byte) {
	const first = inHeaderLen + 8
	if len(m) < first {
		return
	}
	count := int(le.Uint32(m[inHeaderLen:]))
	out := append([]byte(nil), m[:first]...)
	kept := 0
	for i := 0; i < count && first+16*(i+1) <= len(m); i++ {
		e := m[first+16*i:]
		if n := c.forgetCount(le.Uint64(e), le.Uint64(e[8:])); n > 0 {
			out = le.AppendUint64(out, le.Uint64(e))
			out = le.AppendUint64(out, n)
			kept++
		}
	}
	if kept == 0 || c.srv == nil || !c.srv.ready {
		return
	}
	le.PutUint32(out[0:], uint32(len(out)))
	le.PutUint32(out[inHeaderLen:], uint32(kept))
	c.toServer(out)
}

// forgetCount records that the kernel forgot n lookups of id and returns
// how many the server should forget. Must hold mu.
func (c *conn) forgetCount(id, n uint64) uint64 {
	k := c.kernel[id]
	k -= min(n, k)
	s := c.server[id]
	keep := min(s, 1) // the server keeps one while the kernel holds any
	if k == 0 {
		keep = 0
		delete(c.kernel, id)
	} else {
		c.kernel[id] = k
		keep = max(keep, s-min(n, s))
	}
	if keep == 0 {
		delete(c.server, id)
	} else {
		c.server[id] = keep
	}
	return s - keep
}

// readServer forwards server s's replies and notifications until its EOF,
// then detaches it; its unanswered requests wait for the next server.
func (c *conn) readServer(s *server) {
	defer close(s.done)
	for {
		err := readMsg(s.rc, func(m []byte) { c.fromServer(s, m) })
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return // handover: the socket goes to the next keeper
		}
		c.mu.Lock()
		if c.srv == s {
			c.dropLocked()
			c.log.Info("keeper: server went away; requests wait for the next", "waiting", len(c.reqs))
		}
		c.mu.Unlock()
		s.f.Close()
		return
	}
}

// fromServer handles one message of server s; m is only valid during the
// call.
func (c *conn) fromServer(s *server, m []byte) {
	h, ok := parseOut(m)
	if !ok {
		return
	}
	if h.unique == 0 {
		c.notes.put(append([]byte(nil), m...))
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.srv != s {
		return // replaced: its requests were or will be sent again
	}
	if ch, ok := c.calls[h.unique]; ok {
		delete(c.calls, h.unique)
		ch <- append([]byte(nil), m...)
		return
	}
	r := c.reqs[h.unique]
	if r == nil || r.gen != s.gen {
		return
	}
	delete(c.reqs, h.unique)
	c.writeKernel(c.account(r, h.errno, m))
}

// account records what reply m to r tells the kernel, and returns the
// reply to give it (with the keeper's handle). Must hold mu.
func (c *conn) account(r *request, errno int32, m []byte) []byte {
	if r.op == opRelease || r.op == opReleasedir {
		delete(c.handles, le.Uint64(r.msg[inHeaderLen:]))
	}
	if errno != 0 {
		return m
	}
	nodeid := r.nodeid
	if returnsEntry(r.op) && len(m) >= outHeaderLen+8 {
		if id := le.Uint64(m[outHeaderLen:]); id != 0 {
			c.kernel[id]++
			c.server[id]++
			nodeid = id
		}
	}
	if r.op == opInit {
		c.init = r.msg
	}
	off := replyFH(r.op)
	if off < 0 || len(m) < off+8 {
		return m
	}
	c.next++
	c.handles[c.next] = &handle{nodeid: nodeid, open: r.msg, sfh: le.Uint64(m[off:]), gen: c.gen}
	out := append([]byte(nil), m...)
	le.PutUint64(out[off:], c.next)
	return out
}

// writeKernel writes one message to /dev/fuse. ENOENT means the request
// was interrupted or the kernel gave up on it: nothing to do.
func (c *conn) writeKernel(m []byte) {
	if _, err := c.dev.Write(m); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENODEV) && !c.aborted.Load() {
		h, _ := parseOut(m)
		c.log.Warn("keeper: writing to /dev/fuse", "unique", h.unique, "err", err)
	}
}

func (s *server) shutdown() {
	s.rc.Control(func(fd uintptr) { unix.Shutdown(int(fd), unix.SHUT_RDWR) })
}

// pending returns the unanswered requests in the order the kernel sent
// them. Must hold mu.
func (c *conn) pending() []uint64 {
	us := make([]uint64, 0, len(c.reqs))
	for u := range c.reqs {
		us = append(us, u)
	}
	slices.Sort(us)
	return us
}

// info describes the mount.
func (c *conn) info() MountInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return MountInfo{Target: c.target, Served: c.srv != nil && c.srv.ready, Waiting: len(c.reqs), Memo: c.memo}
}

// setMemo replaces the memo with a copy of memo.
func (c *conn) setMemo(memo []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.memo = append([]byte(nil), memo...)
}

// dropIfHung drops the attached server if a request sent to it before
// cutoff is still unanswered, and returns its PID.
func (c *conn) dropIfHung(cutoff time.Time) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.srv == nil || !c.srv.ready {
		return 0, false
	}
	for _, r := range c.reqs {
		if r.gen == c.gen && r.sent.Before(cutoff) {
			pid := c.srv.pid
			c.dropLocked()
			return pid, true
		}
	}
	return 0, false
}
