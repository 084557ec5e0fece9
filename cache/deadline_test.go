package cache_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/secretfs/secretfs/cache"
)

// TestHungFetchesDoNotStarveHealthyKeys: eight held keys whose refreshes
// hang fill every background refresh slot; an unrelated key that rotates
// must still be refreshed, because every fetch ends within FetchTimeout.
func TestHungFetchesDoNotStarveHealthyKeys(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, cache.Options{FetchTimeout: 100 * time.Millisecond, MinBackoff: time.Hour})
	var hung []*source
	for i := range 8 {
		s := newSource("v1", "one")
		k := key(fmt.Sprintf("hung%d", i))
		defer c.Hold(k)()
		get(t, c, k, s)
		hung = append(hung, s)
	}
	clk.Advance(ttl / 2)
	healthy := newSource("v1", "one")
	defer c.Hold(key("healthy"))()
	get(t, c, key("healthy"), healthy)

	never := make(chan struct{}) // only the fetch's context ends these
	for _, s := range hung {
		s.setGate(never)
	}
	clk.Advance(ttl / 2) // the hung keys are due, the healthy one is not yet
	eventually(t, "all eight hung refreshes started", func() bool {
		for _, s := range hung {
			if calls, _ := s.count(); calls < 2 {
				return false
			}
		}
		return true
	})

	healthy.set("v2", "two", nil)
	clk.Advance(ttl / 2) // now the healthy key is due too
	eventually(t, "the healthy key refreshed past the hung ones", func() bool {
		v, _ := c.Peek(key("healthy"))
		return v.Version == "v2"
	})
	eventually(t, "the 8 timed-out refreshes counted", func() bool { return c.Stats().FetchErrors == 8 })
	for i := range hung {
		if v, ok := c.Peek(key(fmt.Sprintf("hung%d", i))); !ok || v.Version != "v1" {
			t.Errorf("hung%d: Peek = %+v, %v; want the last good value v1 (stale-on-error)", i, v, ok)
		}
	}
}

// TestForegroundFetchBounded: a Get with a context that never ends still
// returns when its fetch hangs.
func TestForegroundFetchBounded(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, cache.Options{FetchTimeout: 50 * time.Millisecond})
	s := newSource("v1", "one")
	s.setGate(make(chan struct{}))
	done := make(chan error, 1)
	go func() {
		_, err := c.Get(context.Background(), key("a"), s.Fetch)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Get error = %v, want the fetch's deadline", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Get of a hung fetch did not return")
	}
}

// TestAbsurdRetryAfterClamped: a Retry-After of 277777 hours throttles a key
// for at most MaxRetryAfter (plus its jitter), cold or cached.
func TestAbsurdRetryAfterClamped(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, cache.Options{RetryAfter: retryAfter, MaxRetryAfter: time.Minute, MinBackoff: time.Hour})
	absurd := &throttle{after: 999999999 * time.Second}
	cold, cached := newSource("", ""), newSource("v1", "one")
	get(t, c, key("cached"), cached)
	cold.set("", "", absurd)
	cached.set("", "", absurd)
	if _, err := c.Get(context.Background(), key("cold"), cold.Fetch); err == nil {
		t.Fatal("cold Get succeeded, want the 429")
	}
	clk.Advance(ttl)
	get(t, c, key("cached"), cached) // stale: refreshes, gets the 429
	quiet(t, c)
	if _, err := c.Get(context.Background(), key("cold"), cold.Fetch); !errors.Is(err, cache.ErrThrottled) {
		t.Fatalf("cold Get within Retry-After = %v, want ErrThrottled", err)
	}

	cold.set("v1", "one", nil)
	cached.set("v2", "two", nil)
	clk.Advance(time.Minute + 6*time.Second) // MaxRetryAfter and its jitter of up to a tenth
	if diff := cmp.Diff(got{Version: "v1", Bytes: "one"}, get(t, c, key("cold"), cold)); diff != "" {
		t.Errorf("cold Get after MaxRetryAfter (-want +got):\n%s", diff)
	}
	get(t, c, key("cached"), cached)
	eventually(t, "the cached key refreshed after MaxRetryAfter", func() bool {
		v, _ := c.Peek(key("cached"))
		return v.Version == "v2"
	})
}
