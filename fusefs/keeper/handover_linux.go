//go:build linux

package keeper

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// connState is what the next keeper needs of one mount; the /dev/fuse fd
// and, if Attached, the server socket travel beside it.
type connState struct {
	Target   string                 `json:"target"`
	Name     string                 `json:"name"`
	Init     []byte                 `json:"init,omitempty"`
	Reqs     map[uint64]reqState    `json:"reqs,omitempty"`
	Kernel   map[uint64]uint64      `json:"kernel,omitempty"`
	Server   map[uint64]uint64      `json:"server,omitempty"`
	Handles  map[uint64]handleState `json:"handles,omitempty"`
	Next     uint64                 `json:"next"`
	Attached bool                   `json:"attached"`
	PID      int                    `json:"pid,omitempty"`
	Memo     []byte                 `json:"memo,omitempty"`
}

type reqState struct {
	Msg  []byte `json:"msg"`
	Sent bool   `json:"sent"` // to the attached server, which will answer it
}

type handleState struct {
	Nodeid uint64 `json:"nodeid"`
	Open   []byte `json:"open"`
	SFH    uint64 `json:"sfh"`
	Live   bool   `json:"live"` // SFH is the attached server's
}

// finishWait bounds how long a handover lets the server finish the
// requests it has; the rest travel as state.
const finishWait = time.Second

// handover gives every connection to the keeper at the other end of c:
// it stops reading at message boundaries, lets the server finish, sends
// the listener, then each mount's state and fds, and waits for an ack.
//
// A keeper of an older control protocol (version 1) could not read the
// state sent in parts: it is refused before anything is given away, and
// this keeper keeps serving.
func (k *Keeper) handover(c *net.UnixConn, version int) {
	if version < protocol {
		k.cfg.Log.Error("keeper: refused to hand over to a keeper of an older control protocol", "theirs", version, "ours", protocol)
		if err := sendWhole(c, message{Error: fmt.Sprintf("keeper: handover refused: the running keeper speaks control protocol %d, "+
			"which this keeper (protocol 1) cannot read: use a keeper of protocol %d or later", protocol, protocol)}); err != nil {
			k.cfg.Log.Warn("keeper: answering the refused handover", "err", err)
		}
		return
	}
	k.once(func() { close(k.quit) })
	k.ln.SetDeadline(time.Now())
	k.mu.Lock()
	defer k.mu.Unlock()
	start := time.Now()
	k.handedOver = true
	ln, err := k.ln.File()
	if err != nil {
		k.cfg.Log.Error("keeper: handover failed: the listener", "err", err)
		if err := send(c, message{Error: err.Error()}); err != nil {
			k.cfg.Log.Warn("keeper: answering the failed handover", "err", err)
		}
		return
	}
	defer ln.Close()
	if err := send(c, message{Count: len(k.conns)}, ln); err != nil {
		k.cfg.Log.Error("keeper: handover failed before any mount was sent", "err", err)
		return
	}
	for _, cn := range k.conns {
		cn.stopKernel() // all at once: the pause is one mount's, not the sum
	}
	for _, cn := range k.conns {
		st, files := cn.stop()
		err := send(c, message{State: st}, files...)
		closeAll(files)
		if err != nil {
			k.cfg.Log.Error("keeper: handover failed: this mount is lost", "target", cn.target, "err", err)
		}
	}
	if _, _, err := recv(c); err != nil {
		k.cfg.Log.Error("keeper: the next keeper did not confirm the handover", "err", err)
	}
	k.cfg.Log.Info("keeper: handed over", "mounts", len(k.conns), "took", time.Since(start))
	k.conns = map[string]*conn{}
	k.finish()
}

// stop stops reading from the kernel, lets the server answer what it has
// (bounded), stops reading from the server and returns the state and the
// files to pass on: /dev/fuse, then the server socket if attached.
func (c *conn) stop() (*connState, []*os.File) {
	c.stopKernel()
	<-c.kernelDone
	c.mu.Lock()
	s := c.srv
	c.mu.Unlock()
	if s != nil {
		select {
		case <-s.revived:
		case <-time.After(finishWait):
		}
		for end := time.Now().Add(finishWait); c.sentWaiting() > 0 && time.Now().Before(end); {
			time.Sleep(time.Millisecond)
		}
		c.notes.waitIdle()
		s.f.SetReadDeadline(time.Now())
		<-s.done
	}
	c.notes.close()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	files := []*os.File{c.dev}
	attached := c.srv != nil && c.srv.ready
	if attached {
		files = append(files, c.srv.f)
	} else if c.srv != nil {
		c.dropLocked() // half revived: the next keeper waits for a server
	}
	return c.snapshot(attached), files
}

// stopKernel makes the kernel reader return at the next message boundary.
func (c *conn) stopKernel() { c.dev.SetReadDeadline(time.Now()) }

// sentWaiting counts requests the attached server has not answered yet.
func (c *conn) sentWaiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.reqs {
		if r.gen != 0 && r.gen == c.gen {
			n++
		}
	}
	return n
}

// snapshot returns the state. Must hold mu.
func (c *conn) snapshot(attached bool) *connState {
	st := &connState{
		Target: c.target, Name: c.name, Init: c.init, Next: c.next, Attached: attached, Memo: c.memo,
		Reqs: map[uint64]reqState{}, Kernel: c.kernel, Handles: map[uint64]handleState{},
	}
	if attached {
		st.Server, st.PID = c.server, c.srv.pid
	}
	for u, r := range c.reqs {
		st.Reqs[u] = reqState{Msg: r.msg, Sent: attached && r.gen == c.gen}
	}
	for fh, h := range c.handles {
		st.Handles[fh] = handleState{Nodeid: h.nodeid, Open: h.open, SFH: h.sfh, Live: attached && h.gen == c.gen}
	}
	return st
}

// Takeover asks the keeper listening on cfg.Socket for its connections
// and serves them; the old keeper then stops (its Done closes).
func Takeover(cfg Config) (*Keeper, error) {
	cfg = cfg.withDefaults()
	uc, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: cfg.Socket, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("keeper: no keeper to take over from: %w", err)
	}
	defer uc.Close()
	if err := send(uc, message{Op: "handover"}); err != nil {
		return nil, fmt.Errorf("keeper: takeover: %w", err)
	}
	ln, count, err := recvListener(uc)
	if err != nil {
		return nil, err
	}
	conns := map[string]*conn{}
	for range count {
		m, files, err := recv(uc)
		if err != nil || m.State == nil || len(files) == 0 {
			closeAll(files)
			cfg.Log.Error("keeper: takeover: a mount was lost", "err", err)
			continue
		}
		c := restore(m.State, files, cfg)
		conns[c.target] = c
	}
	// The mounts are ours now, whether or not the old keeper hears so.
	if err := send(uc, message{}); err != nil {
		cfg.Log.Warn("keeper: takeover: confirming to the old keeper", "err", err)
	}
	return run(cfg, ln, conns), nil
}

// recvListener receives the handover's first message: the count of
// mounts to follow, and the listening socket.
func recvListener(uc *net.UnixConn) (*net.UnixListener, int, error) {
	m, files, err := recv(uc)
	if err == nil && m.Error != "" {
		err = errors.New(m.Error)
	}
	if err == nil && len(files) != 1 {
		err = fmt.Errorf("got %d files, want the listener", len(files))
	}
	if err != nil {
		closeAll(files)
		return nil, 0, fmt.Errorf("keeper: takeover: %w", err)
	}
	defer files[0].Close()
	l, err := net.FileListener(files[0])
	if err != nil {
		return nil, 0, fmt.Errorf("keeper: takeover: the passed listener: %w", err)
	}
	ln := l.(*net.UnixListener)
	ln.SetUnlinkOnClose(false)
	return ln, m.Count, nil
}

// restore rebuilds a mount from a handover and starts forwarding again;
// requests the server has not seen yet are sent now.
func restore(st *connState, files []*os.File, cfg Config) *conn {
	for _, f := range files {
		fd := fdOf(f)
		unix.SetNonblock(fd, true)
	}
	c := newConn(st.Target, st.Name, files[0], cfg.Log)
	c.init, c.next, c.memo = st.Init, st.Next, st.Memo
	if st.Kernel != nil {
		c.kernel = st.Kernel
	}
	attached := st.Attached && len(files) > 1
	if attached {
		c.gen = 1
		if st.Server != nil {
			c.server = st.Server
		}
	}
	now := time.Now()
	for u, r := range st.Reqs {
		h, _ := parseIn(r.Msg)
		req := &request{msg: r.Msg, op: h.opcode, nodeid: h.nodeid}
		if r.Sent && attached {
			req.gen, req.sent = 1, now
		}
		c.reqs[u] = req
	}
	for fh, h := range st.Handles {
		hd := &handle{nodeid: h.Nodeid, open: h.Open, sfh: h.SFH}
		if h.Live && attached {
			hd.gen = 1
		}
		c.handles[fh] = hd
	}
	c.start()
	if attached {
		c.resume(files[1], st.PID)
	}
	return c
}

// resume serves a server that was already revived by the previous keeper.
func (c *conn) resume(f *os.File, pid int) {
	s := &server{f: f, rc: rawConn(f), gen: c.gen, pid: pid, ready: true, done: make(chan struct{}), revived: make(chan struct{})}
	close(s.revived)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.srv = s
	c.wg.Add(1)
	go func() { defer c.wg.Done(); c.readServer(s) }()
	for _, u := range c.pending() {
		if r := c.reqs[u]; r != nil && r.gen == 0 && c.srv == s {
			c.send(u, r)
		}
	}
}
