package cache

import (
	"fmt"
	"time"
)

// entry is the state of one key. Every field is guarded by Cache.mu.
type entry struct {
	fetch     Fetch     // most recent Fetch given for the key
	val       Value     // last good value; Bytes owned here, never handed out
	ok        bool      // val holds a good value
	size      int64     // len(val.Bytes) as counted in Cache.bytes
	fetchedAt time.Time // last successful fetch
	readAt    time.Time // last Get

	err        error         // last fetch error; nil after a success
	retryAt    time.Time     // no refresh before this (backoff)
	throttled  time.Time     // server-requested part of retryAt (Retry-After)
	backoff    time.Duration // last exponential delay; 0 after a success
	revokedAt  time.Time     // first Revoked error since the last success
	revokeSent bool          // subscribers were told the grace is over

	call    *call // fetch in flight, if any
	removed bool  // evicted from the LRU; results are not kept
}

// action is what Get does with an entry.
type action int

const (
	serve        action = iota // answer from the cache
	serveRefresh               // answer from the cache and refresh in the background
	failFast                   // answer the remembered error without fetching
	wait                       // fetch (or join the fetch in flight) and answer its result
)

// decide picks Get's action for e at now. Must hold c.mu.
func (c *Cache) decide(k Key, e *entry, now time.Time) action {
	switch {
	case e.ok && k.Version != "":
		return serve // pinned: immutable
	case e.ok && c.revokedOut(e, now), !e.ok:
		return c.decideEmpty(e, now)
	}
	age := now.Sub(e.fetchedAt)
	switch {
	case age < c.opts.TTL, e.call != nil, now.Before(e.retryAt):
		return serve
	case c.closed, age >= 2*c.opts.TTL:
		return wait
	}
	return serveRefresh
}

// decideEmpty decides for an entry without a servable value.
func (c *Cache) decideEmpty(e *entry, now time.Time) action {
	switch {
	case e.call != nil:
		return wait
	case e.fetch == nil, now.Before(e.throttled), e.ok && now.Before(e.retryAt):
		return failFast
	}
	return wait
}

// failure is the error Get answers for failFast. Must hold c.mu.
func (c *Cache) failure(e *entry, now time.Time) error {
	switch {
	case e.fetch == nil:
		return ErrNoFetch
	case e.ok:
		return fmt.Errorf("%w: %w", ErrRevoked, e.err)
	}
	return fmt.Errorf("%w for %s more: %w", ErrThrottled, e.throttled.Sub(now).Round(time.Millisecond), e.err)
}

// revokedOut reports whether e lost access longer than Grace ago.
func (c *Cache) revokedOut(e *entry, now time.Time) bool {
	return !e.revokedAt.IsZero() && now.Sub(e.revokedAt) >= c.opts.Grace
}

// inUse reports whether k is worth keeping fresh: held by a volume or read
// within the last TTL.
func (c *Cache) inUse(k Key, e *entry, now time.Time) bool {
	return c.holds[k] > 0 || now.Sub(e.readAt) < c.opts.TTL
}

// touch returns k's entry, creating it, and records a read. Must hold c.mu.
func (c *Cache) touch(k Key, f Fetch, now time.Time) *entry {
	e, ok := c.lru.Get(k)
	if !ok {
		e = &entry{}
		c.lru.Add(k, e)
	}
	if f != nil {
		e.fetch = f
	}
	e.readAt = now
	return e
}

// evicted is the LRU's eviction callback: it zeroes the entry's bytes so the
// secret does not linger in memory. Runs under c.mu.
func (c *Cache) evicted(_ Key, e *entry) {
	c.bytes -= e.size
	c.stats.Evictions++
	e.removed = true
	e.drop()
}

// drop zeroes and forgets e's value.
func (e *entry) drop() {
	clear(e.val.Bytes)
	e.val, e.ok, e.size = Value{}, false, 0
}

// evictOver evicts until the byte bound holds: least recently used first,
// entries held by a volume only when nothing else is left. Must hold c.mu.
func (c *Cache) evictOver() {
	for c.bytes > c.opts.MaxBytes {
		k, ok := c.victim()
		if !ok {
			return
		}
		c.lru.Remove(k)
	}
}

// victim picks the next entry to evict: the oldest unheld entry with bytes,
// else the oldest held one.
func (c *Cache) victim() (Key, bool) {
	keys := c.lru.Keys() // oldest first
	for _, held := range []bool{false, true} {
		for _, k := range keys {
			e, _ := c.lru.Peek(k)
			if e.size > 0 && (held || c.holds[k] == 0) {
				return k, true
			}
		}
	}
	return Key{}, false
}
