package cache

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// call is one fetch in flight for a key. Readers that need its result wait
// on done; res is written before done is closed and only read after.
//
// The cache coalesces fetches itself rather than with x/sync/singleflight:
// the call lives in the entry (the refresh loop must see it anyway), and a
// waiter can leave when its own context ends without the cache having to
// start an unowned goroutine to run the fetch.
type call struct {
	f    Fetch
	done chan struct{}
	res  result
}

// result is what a finished call answers its waiters.
type result struct {
	val       Value // servable value (private copy; waiters copy again)
	ok        bool  // val is servable
	err       error // the fetch error, also set when a stale val is served
	abandoned bool  // the fetch was cut short by its caller's context
}

// answer returns the value and error a Get receives from r.
func (r *result) answer() (Value, error) {
	if r.ok {
		return clone(r.val), nil
	}
	return Value{}, r.err
}

// Get returns a copy of the value for k, calling f only when the cache has no
// usable value: a fresh value is returned at once; a stale one is returned at
// once and refreshed in the background; a missing one is fetched, with
// concurrent Gets for k sharing one call. While a good value exists Get
// never returns an error (unless access was revoked past Options.Grace).
// A pinned key (Version set) is fetched once only. f replaces the Fetch kept
// for k's refreshes; it may be nil for a key known to be cached.
func (c *Cache) Get(ctx context.Context, k Key, f Fetch) (Value, error) {
	c.mu.Lock()
	now := c.opts.Now()
	e := c.touch(k, f, now)
	for {
		switch a := c.decide(k, e, now); a {
		case serve, serveRefresh:
			return c.hit(k, e, now, a == serveRefresh), nil
		case failFast:
			c.stats.Misses++
			err := c.failure(e, now)
			c.mu.Unlock()
			return Value{}, err
		}
		c.stats.Misses++
		r, retry := c.await(ctx, k, e)
		if !retry {
			return r.answer()
		}
		c.mu.Lock()
		now = c.opts.Now()
		e = c.touch(k, f, now)
	}
}

// hit answers Get from e, starting a background refresh if asked to.
// Called with c.mu held; releases it.
func (c *Cache) hit(k Key, e *entry, now time.Time, refresh bool) Value {
	c.stats.Hits++
	if k.Version == "" && now.Sub(e.fetchedAt) >= c.opts.TTL {
		c.stats.Stale++
	}
	if refresh {
		c.refreshAsync(k, e)
	}
	v := clone(e.val)
	c.mu.Unlock()
	return v
}

// Refresh fetches k now, whatever its age, and returns the fetch error
// (the last good value stays cached and served). If a fetch for k is
// already in flight Refresh waits for that one instead. A pinned key is
// never refetched. Within a server-requested Retry-After Refresh returns an
// error matching ErrThrottled without calling Key Vault.
func (c *Cache) Refresh(ctx context.Context, k Key) error {
	for {
		c.mu.Lock()
		e, ok := c.lru.Peek(k)
		now := c.opts.Now()
		switch {
		case !ok || e.fetch == nil:
			c.mu.Unlock()
			return fmt.Errorf("refresh: %w", ErrNotCached)
		case e.ok && k.Version != "":
			c.mu.Unlock()
			return nil
		case e.call == nil && now.Before(e.throttled):
			err := fmt.Errorf("refresh: %w until %s: %w", ErrThrottled, e.throttled.Format(time.RFC3339), e.err)
			c.mu.Unlock()
			return err
		}
		r, retry := c.await(ctx, k, e)
		if !retry {
			return r.err
		}
	}
}

// await joins the fetch in flight for e or runs one in the caller's
// goroutine. It reports retry when the call it joined was abandoned by its
// own caller (whose context ended) and left nothing to serve, so this caller
// should try again. Called with c.mu held; releases it.
func (c *Cache) await(ctx context.Context, k Key, e *entry) (r *result, retry bool) {
	if cl := e.call; cl != nil {
		c.mu.Unlock()
		select {
		case <-cl.done:
		case <-ctx.Done():
			return &result{err: fmt.Errorf("waiting for fetch: %w", ctx.Err())}, false
		}
		return &cl.res, cl.res.abandoned && !cl.res.ok && ctx.Err() == nil
	}
	cl := c.begin(e)
	c.mu.Unlock()
	v, err := c.call(ctx, cl.f)
	c.finish(k, e, cl, v, err, err != nil && ctx.Err() != nil)
	return &cl.res, false
}

// call runs f bounded by Options.FetchTimeout. A fetch that ends because of
// it is a failure like any other (backoff, stale-on-error), not abandoned.
func (c *Cache) call(ctx context.Context, f Fetch) (Value, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.FetchTimeout)
	defer cancel()
	return f(ctx)
}

// begin marks a fetch in flight for e. Must hold c.mu.
func (c *Cache) begin(e *entry) *call {
	cl := &call{f: e.fetch, done: make(chan struct{})}
	e.call = cl
	c.stats.Fetches++
	c.stats.InFlight++
	return cl
}

// refreshAsync starts a background refresh of e unless one is in flight or
// the cache is closed. Must hold c.mu.
func (c *Cache) refreshAsync(k Key, e *entry) {
	if c.closed || e.call != nil || e.fetch == nil {
		return
	}
	cl := c.begin(e)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.background(k, e, cl)
	}()
}

// background runs cl with the cache's context, at most maxParallel at once.
func (c *Cache) background(k Key, e *entry, cl *call) {
	select {
	case c.sem <- struct{}{}:
		defer func() { <-c.sem }()
	case <-c.ctx.Done():
		c.finish(k, e, cl, Value{}, c.ctx.Err(), true)
		return
	}
	v, err := c.call(c.ctx, cl.f)
	c.finish(k, e, cl, v, err, err != nil && c.ctx.Err() != nil)
}

// finish records the outcome of cl, wakes its waiters and notifies
// subscribers of a new value (outside the lock).
func (c *Cache) finish(k Key, e *entry, cl *call, v Value, err error, abandoned bool) {
	c.mu.Lock()
	now := c.opts.Now()
	var changed, revoked bool
	if err == nil {
		changed = c.store(e, v, now)
	} else if !abandoned {
		c.fail(e, err, now)
		// The grace of a revoked entry is over: tell subscribers once, so
		// the files showing it are re-read and fail (EACCES) rather than
		// keep serving what the identity may no longer read.
		revoked = e.ok && c.revokedOut(e, now) && !e.revokeSent
		e.revokeSent = e.revokeSent || revoked
	}
	cl.res = c.result(e, err, abandoned, now)
	e.call = nil
	c.stats.InFlight--
	var note Value // empty when the news is a revocation
	if changed {
		note = clone(e.val)
	}
	if e.removed {
		e.drop()
	} else {
		c.evictOver()
	}
	c.mu.Unlock()
	close(cl.done)
	if changed || revoked {
		c.notes.post(k, note)
	}
}

// store makes v e's value and reports whether it replaced a different one.
// The bytes of the value it replaces (or of v, if unchanged) are zeroed.
// Must hold c.mu.
func (c *Cache) store(e *entry, v Value, now time.Time) (changed bool) {
	e.fetchedAt, e.err, e.backoff = now, nil, 0
	e.retryAt, e.throttled, e.revokedAt = time.Time{}, time.Time{}, time.Time{}
	e.revokeSent = false
	if e.ok && e.val.Version == v.Version && bytes.Equal(e.val.Bytes, v.Bytes) {
		clear(v.Bytes)
		return false
	}
	changed = e.ok
	c.retire(e)
	size := int64(len(v.Bytes))
	if !e.removed {
		c.bytes += size - e.size
	}
	e.val, e.ok, e.size = v, true, size
	return changed
}

// fail records a fetch error on e and schedules the next attempt. Must hold
// c.mu.
func (c *Cache) fail(e *entry, err error, now time.Time) {
	c.stats.FetchErrors++
	e.err = err
	if d, ok := c.retryAfter(err); ok {
		d = min(d, c.opts.MaxRetryAfter)
		e.throttled = now.Add(d + jitter(d/10))
		e.retryAt = e.throttled
	} else {
		e.backoff = min(max(2*e.backoff, c.opts.MinBackoff), c.opts.MaxBackoff)
		e.retryAt = now.Add(e.backoff + jitter(e.backoff/5))
	}
	if e.revokedAt.IsZero() && c.opts.Revoked != nil && c.opts.Revoked(err) {
		e.revokedAt = now
	}
}

// jitter is a random delay in [0, d].
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d + 1)
}

// retryAfter returns the positive delay Key Vault asked for in err, if any.
func (c *Cache) retryAfter(err error) (time.Duration, bool) {
	if c.opts.RetryAfter == nil {
		return 0, false
	}
	d, ok := c.opts.RetryAfter(err)
	return d, ok && d > 0
}

// result builds what waiters of a finished fetch answer. Must hold c.mu.
func (c *Cache) result(e *entry, err error, abandoned bool, now time.Time) result {
	switch {
	case e.ok && !c.revokedOut(e, now):
		return result{val: clone(e.val), ok: true, err: err}
	case e.ok:
		return result{err: fmt.Errorf("%w: %w", ErrRevoked, err)}
	}
	return result{err: err, abandoned: abandoned}
}
