// Package cache is the node-wide TTL LRU cache that every mounted volume
// reads Key Vault objects through.
//
// One Cache serves every pod on a node, so a [Key] carries the identity that
// asked (tenant and client ID) as well as the object: two identities never
// share an entry, even for the same vault object.
//
// # Freshness
//
// An entry younger than Options.TTL is served without a fetch. Entries that
// are in use (read within the last TTL, or held with [Cache.Hold]) are
// refreshed ahead of expiry by one background loop, so readers rarely see a
// stale value and almost never wait. A reader that does find an entry older
// than TTL gets it immediately and starts a refresh (stale-while-revalidate);
// only an entry unused for two TTLs, or a missing one, makes the reader wait
// for Key Vault. Pinned keys (Key.Version set) are immutable: fetched once,
// never again.
//
// # Faults
//
// A failed refresh keeps the last good value: readers never get an error while
// one exists (stale-on-error), so a Key Vault outage is invisible except in
// [Stats.Staleness]. Failed refreshes back off, honouring a server-requested
// delay (429 Retry-After) when Options.RetryAfter finds one, capped at
// Options.MaxRetryAfter (2 minutes), else doubling from MinBackoff to
// MaxBackoff; both get random jitter. Every fetch, in the background or for a
// reader, ends within Options.FetchTimeout, so a Key Vault that accepts a
// request and never answers costs a key one failed refresh, not its
// freshness, and cannot fill the few background refresh slots that every
// other key needs. At most one fetch per key is in flight at a time:
// concurrent readers of a missing key share one call. A key with no good
// value is not negatively cached, except within a server-requested
// Retry-After. The one exception to stale-on-error is access revocation
// (Options.Revoked): the last good value is served for Options.Grace more,
// then reads fail with an error matching [ErrRevoked].
//
// # Memory and secret hygiene
//
// The sum of cached value sizes is bounded by Options.MaxBytes with LRU
// eviction (entries held by a mounted volume go last). The cache owns the
// bytes a Fetch returns (a Fetch must not keep or modify them) and zeroes them
// when they are replaced or evicted. Because of that, [Cache.Get],
// [Cache.Peek] and subscribers always receive their own copy: a caller may keep
// it as long as it likes and should clear it when done if it cares.
// [Cache.Lease] is the exception: it lends the cache's own bytes, so every
// FUSE mount of one object serves one copy, counted in MaxBytes; lent bytes
// are never evicted or zeroed until their last Lease is released.
//
// # Change notification
//
// [Cache.Subscribe] callbacks learn when a refresh returns a new version (or
// new bytes). They run on one dispatcher goroutine, outside every lock of this
// package and never concurrently; a burst of changes to one key is coalesced
// to its latest value. This is how rotation reaches the FUSE kernel cache and
// the Kubernetes Secret sync writer. A subscriber may call any method of the
// Cache.
//
// The package logs nothing; it exposes [Cache.Stats] for metrics. Values never
// appear in its errors.
package cache
