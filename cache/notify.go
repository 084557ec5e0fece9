package cache

import (
	"sync"
)

// notifier delivers change notifications from one goroutine, so subscribers
// run outside the cache's locks, never concurrently, and a slow subscriber
// delays only other notifications, never readers or fetches.
type notifier struct {
	wake chan struct{} // capacity 1: a pending wake-up

	mu      sync.Mutex                  // guards the fields below
	subs    map[uint64]func(Key, Value) // by subscription id
	next    uint64                      // next subscription id
	pending map[Key]Value               // latest unsent value per key (owned copies)
	order   []Key                       // keys of pending, first changed first
	stopped bool                        // dropped by Close: post discards
}

func newNotifier() *notifier {
	return &notifier{
		wake:    make(chan struct{}, 1),
		subs:    make(map[uint64]func(Key, Value)),
		pending: make(map[Key]Value),
	}
}

// subscribe adds fn and returns its idempotent cancel.
func (n *notifier) subscribe(fn func(Key, Value)) (cancel func()) {
	n.mu.Lock()
	id := n.next
	n.next++
	n.subs[id] = fn
	n.mu.Unlock()
	return func() {
		n.mu.Lock()
		delete(n.subs, id)
		n.mu.Unlock()
	}
}

// post queues v (which post now owns) for k, replacing an older unsent value.
func (n *notifier) post(k Key, v Value) {
	n.mu.Lock()
	if n.stopped {
		n.mu.Unlock()
		clear(v.Bytes)
		return
	}
	if old, ok := n.pending[k]; ok {
		clear(old.Bytes)
	} else {
		n.order = append(n.order, k)
	}
	n.pending[k] = v
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// run delivers notifications until stop is closed.
func (n *notifier) run(wg *sync.WaitGroup, stop <-chan struct{}) {
	defer wg.Done()
	for {
		select {
		case <-stop:
			return
		case <-n.wake:
			for n.deliverOne() {
			}
		}
	}
}

// deliverOne sends the oldest pending notification to every subscriber, each
// its own copy, and reports whether there was one.
func (n *notifier) deliverOne() bool {
	n.mu.Lock()
	if len(n.order) == 0 {
		n.mu.Unlock()
		return false
	}
	k := n.order[0]
	n.order = n.order[1:]
	v := n.pending[k]
	delete(n.pending, k)
	ids := make([]uint64, 0, len(n.subs))
	for id := range n.subs {
		ids = append(ids, id)
	}
	n.mu.Unlock()
	for _, id := range ids {
		if fn := n.subscriber(id); fn != nil {
			fn(k, clone(v))
		}
	}
	clear(v.Bytes)
	return true
}

// subscriber returns the function subscribed as id, or nil once canceled.
func (n *notifier) subscriber(id uint64) func(Key, Value) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.subs[id]
}

// drop zeroes and discards every pending notification.
func (n *notifier) drop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stopped = true
	for k, v := range n.pending {
		clear(v.Bytes)
		delete(n.pending, k)
	}
	n.order = nil
}
