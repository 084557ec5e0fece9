package cache_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/secretfs/secretfs/cache"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// ttl is short so the refresh loop (which ticks in real time at TTL/10)
// wakes often; ages are decided by the fake clock.
const ttl = 100 * time.Millisecond

// clock is a fake clock the tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// source is a fake Key Vault object: it counts calls and returns what it is
// set to, optionally waiting on a gate first.
type source struct {
	mu       sync.Mutex
	val      cache.Value
	err      error
	gate     chan struct{} // nil: answer at once; else wait until closed (or ctx done)
	calls    int
	finished int
	given    [][]byte // every Bytes slice handed to the cache
}

func newSource(version, content string) *source {
	return &source{val: cache.Value{Version: version, Bytes: []byte(content)}}
}

func (s *source) set(version, content string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.val, s.err = cache.Value{Version: version, Bytes: []byte(content)}, err
}

func (s *source) setGate(g chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate = g
}

// Fetch is a cache.Fetch.
func (s *source) Fetch(ctx context.Context) (cache.Value, error) {
	s.mu.Lock()
	s.calls++
	gate := s.gate
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.finished++
		s.mu.Unlock()
	}()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return cache.Value{}, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return cache.Value{}, s.err
	}
	v := cache.Value{Version: s.val.Version, Bytes: append([]byte(nil), s.val.Bytes...)}
	s.given = append(s.given, v.Bytes)
	return v, nil
}

// givenAt is the i-th Bytes slice handed to the cache.
func (s *source) givenAt(i int) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.given[i]
}

func (s *source) count() (calls, finished int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, s.finished
}

// quiet waits until no fetch of c is in flight.
func quiet(t *testing.T, c *cache.Cache) {
	t.Helper()
	eventually(t, "fetches finish", func() bool { return c.Stats().InFlight == 0 })
}

// eventually waits for cond, failing the test after a generous deadline.
// It asserts an outcome, not a duration.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func newCache(t *testing.T, clk *clock, opts cache.Options) *cache.Cache {
	t.Helper()
	if opts.TTL == 0 {
		opts.TTL = ttl
	}
	opts.Now = clk.Now
	c := cache.New(opts)
	t.Cleanup(c.Close)
	return c
}

func key(name string) cache.Key {
	return cache.Key{Tenant: "t", ClientID: "client", Vault: "v", Type: "secret", Name: name}
}

// got is a comparable rendering of a Get result.
type got struct {
	Version, Bytes string
	Err            bool
}

func get(t *testing.T, c *cache.Cache, k cache.Key, s *source) got {
	t.Helper()
	var f cache.Fetch
	if s != nil {
		f = s.Fetch
	}
	v, err := c.Get(context.Background(), k, f)
	return got{Version: v.Version, Bytes: string(v.Bytes), Err: err != nil}
}

var (
	errDown      = errors.New("key vault unavailable")
	errDenied    = errors.New("forbidden")
	errThrottled = errors.New("too many requests")
)
