package cache

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Key names one cached file content. It carries who asked (tenant, client
// ID) so identities never share entries. Keys hold names, never secrets.
type Key struct {
	Tenant, ClientID, Vault string
	Type, Name              string
	// Version is "" for latest (refreshed every TTL); non-empty pins an
	// immutable version that is never refetched.
	Version string
	// Variant is the output format the bytes were rendered in, or e.g.
	// "versions:5" for a history list.
	Variant string
}

// Value is what a fetch produced. Version is the Key Vault version id of
// Bytes.
type Value struct {
	Bytes   []byte
	Version string
}

// Fetch fetches the current value. The cache keeps the most recent Fetch
// given for a key and calls it for refreshes. The cache takes ownership of
// the returned Bytes (it zeroes them on eviction), so a Fetch must not keep
// them. A Fetch must return when ctx is done: Close waits for it.
type Fetch func(ctx context.Context) (Value, error)

var (
	// ErrNoFetch is returned by Get for a key that is not cached when no
	// Fetch was given.
	ErrNoFetch = errors.New("cache: key not cached and no fetch given")
	// ErrNotCached is returned by Refresh for a key the cache does not hold.
	ErrNotCached = errors.New("cache: key not cached")
	// ErrThrottled wraps the last fetch error while Key Vault's requested
	// Retry-After has not passed and no good value exists.
	ErrThrottled = errors.New("cache: throttled by Key Vault")
	// ErrRevoked wraps the last fetch error once an entry whose access was
	// revoked (Options.Revoked) has outlived Options.Grace.
	ErrRevoked = errors.New("cache: access revoked")
)

// Options configure a Cache. The zero value is usable.
type Options struct {
	// TTL is how long a fetched value is fresh; default 2m (the upstream
	// rotation poll interval).
	TTL time.Duration
	// MaxBytes bounds the sum of len(Bytes) of cached values; default 64 MiB.
	// Least recently used entries are evicted first.
	MaxBytes int64
	// RetryAfter extracts a server-requested backoff (429 Retry-After) from a
	// fetch error; nil means errors never carry one.
	RetryAfter func(error) (time.Duration, bool)
	// MinBackoff and MaxBackoff bound the exponential delay between failed
	// refreshes when no Retry-After applies; defaults 1s and TTL. Each delay
	// gets up to a fifth more at random, so keys that failed together do not
	// retry together.
	MinBackoff, MaxBackoff time.Duration
	// MaxRetryAfter caps a server-requested delay; default 2m. A
	// Retry-After of years would otherwise freeze a key (and fail every Get
	// of an uncached one) until restart. Up to a tenth more is added at
	// random, so the nodes one throttle answer reached come back spread out.
	MaxRetryAfter time.Duration
	// FetchTimeout bounds every Fetch call, background refreshes included,
	// whatever the caller's context; default 2m. A fetch that never returns
	// would otherwise keep its key from ever refreshing, and hold one of the
	// few background refresh slots every other key needs.
	FetchTimeout time.Duration
	// Now is the clock, for tests; default time.Now.
	Now func() time.Time
	// Revoked reports whether a fetch error means this identity lost access
	// (HTTP 403) rather than an outage; nil means never. Revoked entries stop
	// being served Grace after the first such error.
	Revoked func(error) bool
	// Grace is how long the last good value of a revoked entry is still
	// served; default TTL.
	Grace time.Duration
	// MaxIdle drops entries neither read nor held for this long, so secrets
	// nobody uses leave memory; default 10×TTL.
	MaxIdle time.Duration
}

// withDefaults fills the zero fields of o.
func (o Options) withDefaults() Options {
	if o.TTL <= 0 {
		o.TTL = 2 * time.Minute
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 64 << 20
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = o.TTL
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = 2 * time.Minute
	}
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = 2 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Grace <= 0 {
		o.Grace = o.TTL
	}
	if o.MaxIdle <= 0 {
		o.MaxIdle = 10 * o.TTL
	}
	return o
}

// maxParallel bounds background refreshes running at once, so one sweep over
// thousands of entries does not open thousands of connections to Key Vault.
// Options.FetchTimeout frees a slot a hung fetch holds.
const maxParallel = 8

// Cache is a node-wide TTL LRU cache of Key Vault objects. It is safe for
// concurrent use. New starts two goroutines (the refresh loop and the
// notification dispatcher); Close stops them.
type Cache struct {
	opts Options
	tick time.Duration // refresh loop period, TTL/10; also the refresh-ahead margin

	ctx    context.Context // background fetches; canceled by Close
	cancel context.CancelFunc
	stop   chan struct{} // closed by Close
	once   sync.Once     // guards Close
	wg     sync.WaitGroup
	sem    chan struct{} // bounds background fetches
	notes  *notifier

	mu     sync.Mutex                  // guards the fields below and every entry
	lru    *simplelru.LRU[Key, *entry] // order of use; eviction zeroes
	holds  map[Key]int                 // Hold counts; outlive eviction
	bytes  int64                       // sum of entry sizes in lru
	closed bool                        // no more background goroutines
	stats  Stats                       // counters only; gauges computed in Stats
}

// New returns a Cache with its background refresh loop running. Call Close
// when done.
func New(opts Options) *Cache {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cache{
		opts:   opts,
		tick:   max(opts.TTL/10, time.Millisecond),
		ctx:    ctx,
		cancel: cancel,
		stop:   make(chan struct{}),
		sem:    make(chan struct{}, maxParallel),
		notes:  newNotifier(),
		holds:  make(map[Key]int),
	}
	// The count bound is unreachable: MaxBytes is the bound that matters.
	c.lru, _ = simplelru.NewLRU[Key, *entry](math.MaxInt32, c.evicted)
	c.wg.Add(2)
	go c.loop()
	go c.notes.run(&c.wg, c.stop)
	return c
}

// Close stops the refresh loop, cancels background fetches and waits for
// them and for the dispatcher. Pending notifications are dropped. Get,
// Peek and Refresh keep working afterwards, fetching synchronously.
func (c *Cache) Close() {
	c.once.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		c.cancel()
		close(c.stop)
		c.wg.Wait()
		c.notes.drop()
	})
}

// Peek returns a copy of the last good value of k without fetching and
// without counting as a use (no LRU touch, no refresh-ahead). It reports false
// if there is none, or if access was revoked and the grace period is over.
func (c *Cache) Peek(k Key) (Value, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Peek(k)
	if !ok || !e.ok || c.revokedOut(e, c.opts.Now()) {
		return Value{}, false
	}
	return clone(e.val), true
}

// Hold marks k as in use until release is called, whether or not anyone
// calls Get: a mounted volume whose reads the kernel answers from its own
// cache holds its keys so they keep being refreshed (and rotations keep being
// noticed), are never dropped as idle, and are evicted for space last.
// Holds nest; release is idempotent.
func (c *Cache) Hold(k Key) (release func()) {
	c.mu.Lock()
	c.holds[k]++
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.holds[k]--; c.holds[k] <= 0 {
				delete(c.holds, k)
			}
		})
	}
}

// Subscribe registers fn to be called with a copy of the new value whenever
// a refresh returns a new Version or new bytes (not for a key's first
// fetch), and once with an empty Value when a revoked key's grace is over
// (its Get now fails with ErrRevoked). Calls come from one goroutine, outside the cache's locks, so fn
// should be quick. cancel stops further calls; a call already running
// finishes.
func (c *Cache) Subscribe(fn func(Key, Value)) (cancel func()) {
	return c.notes.subscribe(fn)
}

// clone returns v with its own copy of Bytes.
func clone(v Value) Value {
	if v.Bytes != nil {
		v.Bytes = append([]byte(nil), v.Bytes...)
	}
	return v
}
