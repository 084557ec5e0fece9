//go:build linux

package keeper

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// attach makes f (the keeper's end of a new socket pair) the server of this
// mount, replacing any attached one, and revives it in the background. The
// server is ready when the replayed INIT, lookups and opens are answered;
// until then the kernel's requests wait.
func (c *conn) attach(f *os.File, pid int, timeout time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked()
	c.gen++
	s := &server{f: f, rc: rawConn(f), gen: c.gen, pid: pid, done: make(chan struct{}), revived: make(chan struct{})}
	c.srv = s
	c.server = map[uint64]uint64{}
	c.wg.Add(2)
	go func() { defer c.wg.Done(); c.readServer(s) }()
	go func() { defer c.wg.Done(); c.revive(s, timeout) }()
}

// revive replays what server s needs to take the connection over, then
// sends it every unanswered request. A server that fails or does not
// answer within timeout is dropped.
func (c *conn) revive(s *server, timeout time.Duration) {
	defer close(s.revived)
	start := time.Now()
	if err := c.replay(s, timeout); err != nil {
		c.mu.Lock()
		if c.srv == s {
			c.log.Warn("keeper: reviving the server failed; dropping it", "err", err)
			c.dropLocked()
		}
		c.mu.Unlock()
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.srv != s {
		return
	}
	s.ready = true
	waiting := c.pending()
	for _, u := range waiting {
		if r := c.reqs[u]; r != nil && c.srv == s {
			c.send(u, r)
		}
	}
	if c.init != nil && len(c.kernel)+len(c.handles) > 0 {
		c.log.Debug("keeper: server revived", "nodes", len(c.server), "handles", len(c.handles), "resent", len(waiting), "took", time.Since(start))
	}
}

// replay sends INIT, then LOOKUP "." for every node the kernel holds, then
// OPEN for every handle, waiting for each stage.
func (c *conn) replay(s *server, timeout time.Duration) error {
	c.mu.Lock()
	init := c.init
	var ids []uint64
	for id := range c.kernel {
		if id > 1 {
			ids = append(ids, id)
		}
	}
	hs := map[uint64]*handle{}
	for fh, h := range c.handles {
		hs[fh] = h
	}
	c.mu.Unlock()
	if init == nil {
		return nil // a fresh mount: the kernel's own INIT is among the requests
	}
	deadline := time.Now().Add(timeout)
	if _, err := c.calls1(s, [][]byte{init}, deadline); err != nil {
		return fmt.Errorf("replaying INIT: %w", err)
	}
	if err := c.reviveNodes(s, ids, deadline); err != nil {
		return err
	}
	return c.reopen(s, hs, deadline)
}

// reviveNodes sends LOOKUP "." for ids; each success gives the server one
// lookup. A node that fails stays dead: its requests get EIO.
func (c *conn) reviveNodes(s *server, ids []uint64, deadline time.Time) error {
	msgs := make([][]byte, len(ids))
	for i, id := range ids {
		msgs[i] = newRequest(opLookup, 0, id, []byte(".\x00"))
	}
	replies, err := c.calls1(s, msgs, deadline)
	if err != nil {
		return fmt.Errorf("reviving nodes: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, m := range replies {
		if h, _ := parseOut(m); h.errno == 0 && len(m) >= outHeaderLen+8 && c.srv == s {
			c.server[le.Uint64(m[outHeaderLen:])]++
		} else {
			c.log.Warn("keeper: a node could not be revived; its users get EIO", "nodeid", ids[i], "errno", -h.errno)
		}
	}
	return nil
}

// reopen opens every handle again and points it at the server's new one.
func (c *conn) reopen(s *server, hs map[uint64]*handle, deadline time.Time) error {
	fhs := make([]uint64, 0, len(hs))
	msgs := make([][]byte, 0, len(hs))
	for fh, h := range hs {
		fhs = append(fhs, fh)
		msgs = append(msgs, h.open)
	}
	replies, err := c.calls1(s, msgs, deadline)
	if err != nil {
		return fmt.Errorf("reopening handles: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, m := range replies {
		h := hs[fhs[i]]
		off := replyFH(le.Uint32(h.open[4:]))
		if oh, _ := parseOut(m); oh.errno == 0 && off >= 0 && len(m) >= off+8 && c.srv == s {
			h.sfh, h.gen = le.Uint64(m[off:]), s.gen
		}
	}
	return nil
}

// errServerGone: the server went away (or was dropped) before answering.
var errServerGone = errors.New("the server went away")

// calls1 sends the keeper's own requests msgs (their uniques replaced) to
// server s and waits for every reply until deadline.
func (c *conn) calls1(s *server, msgs [][]byte, deadline time.Time) ([][]byte, error) {
	chans := make([]chan []byte, len(msgs))
	c.mu.Lock()
	for i, m := range msgs {
		if c.srv != s {
			c.mu.Unlock()
			return nil, errServerGone
		}
		c.nextCall++
		u := callBit | c.nextCall
		chans[i] = make(chan []byte, 1)
		c.calls[u] = chans[i]
		c.toServer(withUnique(m, u))
	}
	c.mu.Unlock()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	replies := make([][]byte, len(msgs))
	for i, ch := range chans {
		select {
		case m, ok := <-ch:
			if !ok {
				return nil, errServerGone
			}
			replies[i] = m
		case <-t.C:
			return nil, fmt.Errorf("no reply within the revival timeout: %w", errServerGone)
		}
	}
	return replies, nil
}
