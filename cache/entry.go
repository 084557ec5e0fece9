package cache

import (
	"bytes"
	"context"
	"fmt"
	"sync"
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
	// buf is val.Bytes as lent by Lease; nil until first lent. While it
	// has leases, val.Bytes is never zeroed.
	buf *buffer
}

// buffer is a value's bytes lent to readers (Lease) instead of copied.
// Every field is guarded by Cache.mu.
type buffer struct {
	bytes  []byte
	leases int  // Leases not yet released
	cached bool // still an entry's value (counted as the entry's size)
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
// secret does not linger in memory, unless they are lent (see retire). Runs
// under c.mu.
func (c *Cache) evicted(_ Key, e *entry) {
	c.retire(e)
	c.bytes -= e.size
	c.stats.Evictions++
	e.removed = true
	e.val, e.ok, e.size = Value{}, false, 0
}

// drop zeroes and forgets the value of a removed entry (never lent: Lease
// lends only entries in the LRU).
func (e *entry) drop() {
	if e.buf == nil || e.buf.leases == 0 {
		clear(e.val.Bytes)
	}
	e.val, e.ok, e.size, e.buf = Value{}, false, 0, nil
}

// retire is called before e's value is replaced or dropped. Bytes still
// lent stay intact and stay counted in c.bytes (they are still in memory)
// until their last Lease is released; otherwise they are zeroed. Must hold
// c.mu.
func (c *Cache) retire(e *entry) {
	b := e.buf
	e.buf = nil
	if b == nil || b.leases == 0 {
		clear(e.val.Bytes)
		return
	}
	b.cached = false
	c.bytes += int64(len(b.bytes))
}

// Lease is a cached value's bytes lent rather than copied: every Lease of
// one value shares one slice with the cache, so N mounts of one object hold
// one copy, counted once against Options.MaxBytes. The bytes must not be
// modified. They stay valid until Release: a lent value is neither evicted
// (that would free nothing) nor zeroed; once replaced or dropped, its bytes
// stay counted in the byte bound and are zeroed at its last Release.
type Lease struct {
	c       *Cache
	b       *buffer
	version string
	release func() // the Hold that keeps the key in use meanwhile
	once    sync.Once
}

// Bytes returns the lent bytes; read-only, valid until Release.
func (l *Lease) Bytes() []byte { return l.b.bytes }

// Version is the Key Vault version of the bytes.
func (l *Lease) Version() string { return l.version }

// Release gives the bytes back. It is idempotent.
func (l *Lease) Release() {
	l.once.Do(func() {
		l.c.mu.Lock()
		b := l.b
		if b.leases--; b.leases == 0 && !b.cached {
			c := l.c
			c.bytes -= int64(len(b.bytes))
			clear(b.bytes)
		}
		l.c.mu.Unlock()
		l.release()
	})
}

// Lease is Get lending the value's bytes instead of copying them (see
// [Lease]); freshness, fetching and errors are Get's. The key is held (see
// Hold) until the Lease is released, so it is never dropped as idle.
func (c *Cache) Lease(ctx context.Context, k Key, f Fetch) (*Lease, error) {
	if l := c.leaseHit(k, f); l != nil {
		return l, nil
	}
	v, err := c.Get(ctx, k, f) // fetches; its copy is only compared and zeroed
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Peek(k)
	if ok && e.ok && e.val.Version == v.Version && bytes.Equal(e.val.Bytes, v.Bytes) {
		clear(v.Bytes)
		return c.lend(k, e), nil
	}
	// Replaced or evicted since (a value larger than MaxBytes is never
	// kept): lend the copy itself, counted until released.
	c.bytes += int64(len(v.Bytes))
	return c.newLease(k, &buffer{bytes: v.Bytes}, v.Version), nil
}

// leaseHit lends k's value if Get would answer it without waiting.
func (c *Cache) leaseHit(k Key, f Fetch) *Lease {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opts.Now()
	e := c.touch(k, f, now)
	a := c.decide(k, e, now)
	if a != serve && a != serveRefresh {
		return nil
	}
	c.stats.Hits++
	if k.Version == "" && now.Sub(e.fetchedAt) >= c.opts.TTL {
		c.stats.Stale++
	}
	if a == serveRefresh {
		c.refreshAsync(k, e)
	}
	return c.lend(k, e)
}

// lend returns a new Lease of e's value. Must hold c.mu.
func (c *Cache) lend(k Key, e *entry) *Lease {
	if e.buf == nil {
		e.buf = &buffer{bytes: e.val.Bytes, cached: true}
	}
	return c.newLease(k, e.buf, e.val.Version)
}

// newLease counts a lease of b and holds k. Must hold c.mu.
func (c *Cache) newLease(k Key, b *buffer, version string) *Lease {
	b.leases++
	c.holds[k]++
	var once sync.Once
	release := func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.holds[k]--; c.holds[k] <= 0 {
				delete(c.holds, k)
			}
		})
	}
	return &Lease{c: c, b: b, version: version, release: release}
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
// else the oldest held one; never a lent one, whose bytes evicting would
// not free.
func (c *Cache) victim() (Key, bool) {
	keys := c.lru.Keys() // oldest first
	for _, held := range []bool{false, true} {
		for _, k := range keys {
			e, _ := c.lru.Peek(k)
			lent := e.buf != nil && e.buf.leases > 0
			if e.size > 0 && !lent && (held || c.holds[k] == 0) {
				return k, true
			}
		}
	}
	return Key{}, false
}
