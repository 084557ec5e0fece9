//go:build linux

package keeper

import "sync"

// queue is an unbounded FIFO of messages with one consumer. The server's
// notifications go through it: a NOTIFY_INVAL_INODE write can wait for
// READs in flight, whose replies the server reader must keep forwarding.
type queue struct {
	mu     sync.Mutex
	msgs   [][]byte // guarded by mu
	closed bool     // guarded by mu
	busy   bool     // a message is being written; guarded by mu
	wake   chan struct{}
	idle   *sync.Cond // signalled when msgs is empty and nothing is being written
}

func newQueue() *queue {
	q := &queue{wake: make(chan struct{}, 1)}
	q.idle = sync.NewCond(&q.mu)
	return q
}

func (q *queue) put(m []byte) {
	q.mu.Lock()
	q.msgs = append(q.msgs, m)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// close ends drain after the queued messages.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// drain passes every message to write, in order, until close.
func (q *queue) drain(write func([]byte)) {
	for {
		q.mu.Lock()
		if len(q.msgs) == 0 {
			q.busy = false
			q.idle.Broadcast()
			closed := q.closed
			q.mu.Unlock()
			if closed {
				return
			}
			<-q.wake
			continue
		}
		m := q.msgs[0]
		q.msgs = q.msgs[1:]
		q.busy = true
		q.mu.Unlock()
		write(m)
	}
}

// waitIdle returns when every queued message was written.
func (q *queue) waitIdle() {
	q.mu.Lock()
	for len(q.msgs) > 0 || q.busy {
		q.idle.Wait()
	}
	q.mu.Unlock()
}
