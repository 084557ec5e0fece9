package cache

import "time"

// loop is the refresh-ahead goroutine: every tick it refreshes the entries
// in use that will be stale within a tick, and drops idle ones.
func (c *Cache) loop() {
	defer c.wg.Done()
	t := time.NewTicker(c.tick)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.sweep()
		}
	}
}

// sweep visits every entry once. Refreshing a tick before expiry means a
// value in use is replaced before anyone can see it stale, and a rotation
// reaches readers within TTL plus one fetch.
func (c *Cache) sweep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opts.Now()
	for _, k := range c.lru.Keys() {
		e, _ := c.lru.Peek(k)
		switch {
		case c.idle(k, e, now):
			c.lru.Remove(k)
		case c.due(k, e, now):
			c.refreshAsync(k, e)
		}
	}
}

// idle reports whether e has been neither read nor held for MaxIdle.
func (c *Cache) idle(k Key, e *entry, now time.Time) bool {
	return c.holds[k] == 0 && e.call == nil && now.Sub(e.readAt) >= c.opts.MaxIdle
}

// due reports whether e should be refreshed ahead now: a latest-version
// value in use, at most a tick from expiry, and not backing off.
func (c *Cache) due(k Key, e *entry, now time.Time) bool {
	return k.Version == "" && e.ok && e.call == nil &&
		now.Sub(e.fetchedAt) >= c.opts.TTL-c.tick &&
		!now.Before(e.retryAt) && c.inUse(k, e, now)
}

// Stats are the cache's counters (since New) and gauges, for metrics.
type Stats struct {
	Hits        uint64 // Gets answered from the cache without waiting
	Stale       uint64 // of Hits, those answered with a value older than TTL
	Misses      uint64 // Gets that had to wait for a fetch, or failed
	Fetches     uint64 // Fetch calls started
	FetchErrors uint64 // Fetch calls that failed (not counting cancellations)
	Evictions   uint64 // entries dropped for space or idleness
	InFlight    int    // fetches running now
	Entries     int    // keys held
	Bytes       int64  // sum of cached value sizes
	// Staleness is the age of the oldest successful fetch among the
	// latest-version values in use: about TTL when all is well, growing
	// during a Key Vault outage.
	Staleness time.Duration
}

// Stats returns a snapshot of the counters and gauges.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Entries, s.Bytes = c.lru.Len(), c.bytes
	now := c.opts.Now()
	for _, k := range c.lru.Keys() {
		e, _ := c.lru.Peek(k)
		if k.Version == "" && e.ok && c.inUse(k, e, now) {
			s.Staleness = max(s.Staleness, now.Sub(e.fetchedAt))
		}
	}
	return s
}
