package cache_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/secretfs/secretfs/cache"
	"go.uber.org/goleak"
)

func TestConcurrentColdGetsMakeOneFetch(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, cache.Options{})
	s := newSource("v1", "one")
	gate := make(chan struct{})
	s.setGate(gate)

	const n = 100
	results := make([]got, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			v, err := c.Get(context.Background(), key("a"), s.Fetch)
			results[i] = got{Version: v.Version, Bytes: string(v.Bytes), Err: err != nil}
		})
	}
	eventually(t, "all Gets waiting", func() bool { return c.Stats().Misses == n })
	close(gate)
	wg.Wait()

	for i, r := range results {
		if diff := cmp.Diff(got{Version: "v1", Bytes: "one"}, r); diff != "" {
			t.Errorf("Get %d (-want +got):\n%s", i, diff)
		}
	}
	if calls, _ := s.count(); calls != 1 {
		t.Errorf("fetch calls = %d, want 1", calls)
	}
}

func TestStaleValueServedWhileRefreshing(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, cache.Options{})
	s := newSource("v1", "one")
	k := key("a")
	get(t, c, k, s)

	gate := make(chan struct{})
	s.setGate(gate)
	s.set("v2", "two", nil)
	clk.Advance(ttl + time.Millisecond)

	if diff := cmp.Diff(got{Version: "v1", Bytes: "one"}, get(t, c, k, s)); diff != "" {
		t.Errorf("stale Get (-want +got):\n%s", diff)
	}
	eventually(t, "refresh started", func() bool { calls, _ := s.count(); return calls == 2 })
	close(gate)
	eventually(t, "refresh stored", func() bool { v, _ := c.Peek(k); return v.Version == "v2" })

	if diff := cmp.Diff(got{Version: "v2", Bytes: "two"}, get(t, c, k, s)); diff != "" {
		t.Errorf("Get after refresh (-want +got):\n%s", diff)
	}
	if calls, _ := s.count(); calls != 2 {
		t.Errorf("fetch calls = %d, want 2", calls)
	}
}

func TestLongUnusedEntryIsFetchedBeforeServing(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, cache.Options{})
	s := newSource("v1", "one")
	k := key("a")
	get(t, c, k, s)
	s.set("v2", "two", nil)
	clk.Advance(2 * ttl)

	if diff := cmp.Diff(got{Version: "v2", Bytes: "two"}, get(t, c, k, s)); diff != "" {
		t.Errorf("Get after 2×TTL unused (-want +got):\n%s", diff)
	}
}

// notes records subscriber calls.
type notes struct {
	mu  sync.Mutex
	got []string
}

func (n *notes) add(k cache.Key, v cache.Value) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, k.Name+"="+v.Version+":"+string(v.Bytes))
}

func (n *notes) list() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.got...)
}

func TestHeldEntryRefreshedAheadAndSubscribersNotifiedOncePerVersion(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, cache.Options{})
	var n notes
	cancel := c.Subscribe(n.add)
	defer cancel()
	s := newSource("v1", "one")
	k := key("a")
	release := c.Hold(k)
	defer release()
	get(t, c, k, s)

	// Each step: move to just before expiry and wait for the loop's refresh.
	step := func(version, content string) {
		t.Helper()
		s.set(version, content, nil)
		before, _ := s.count()
		clk.Advance(ttl - ttl/20)
		eventually(t, "background refresh", func() bool { calls, _ := s.count(); return calls > before })
		quiet(t, c)
		eventually(t, "refresh stored", func() bool { v, _ := c.Peek(k); return v.Version == version })
	}
	step("v2", "two")
	step("v2", "two")
	step("v2", "two")
	step("v3", "three")
	eventually(t, "notifications", func() bool { return len(n.list()) == 2 })

	if diff := cmp.Diff([]string{"a=v2:two", "a=v3:three"}, n.list()); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
	if st := c.Stats(); st.Stale != 0 || st.Staleness >= ttl {
		t.Errorf("held entry went stale: Stale=%d Staleness=%v", st.Stale, st.Staleness)
	}
}

func TestOutageServesLastGoodValue(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, cache.Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 80 * time.Millisecond})
	s := newSource("v1", "one")
	k := key("a")
	get(t, c, k, s)
	s.set("", "", errDown)

	const steps = 200 // 1 s of fake time, 10 TTLs
	var bad []got
	for range steps {
		clk.Advance(5 * time.Millisecond)
		if g := get(t, c, k, s); g != (got{Version: "v1", Bytes: "one"}) {
			bad = append(bad, g)
		}
		quiet(t, c)
	}
	if len(bad) > 0 {
		t.Errorf("%d of %d Gets during the outage did not return the last good value; first: %+v", len(bad), steps, bad[0])
	}
	calls, _ := s.count()
	// Backoff doubles 10→80 ms: about 1 s/80 ms + 4 calls, far below one per Get.
	if calls > 20 {
		t.Errorf("fetch calls during outage = %d, want ≤ 20 (backoff)", calls)
	}
	if st := c.Stats(); st.Staleness < 900*time.Millisecond || st.FetchErrors == 0 {
		t.Errorf("Stats = %+v, want Staleness ≥ 900ms and FetchErrors > 0", st)
	}

	s.set("v2", "two", nil)
	clk.Advance(100 * time.Millisecond)
	get(t, c, k, s)
	eventually(t, "recovery", func() bool { return get(t, c, k, s).Version == "v2" })
}

// throttle is a 429 error carrying Retry-After.
type throttle struct{ after time.Duration }

func (e *throttle) Error() string { return "429 too many requests" }

func retryAfter(err error) (time.Duration, bool) {
	var th *throttle
	if errors.As(err, &th) {
		return th.after, true
	}
	return 0, false
}

func Test429StormHonoursRetryAfter(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, cache.Options{
		RetryAfter: retryAfter,
		MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, // without Retry-After: a call per Get
	})
	s := newSource("v1", "one")
	k := key("a")
	get(t, c, k, s)
	s.set("", "", &throttle{after: 50 * time.Millisecond})

	const window = 500 // ms of fake time, one Get per ms
	var bad int
	for range window {
		clk.Advance(time.Millisecond)
		if g := get(t, c, k, s); g != (got{Version: "v1", Bytes: "one"}) {
			bad++
		}
		quiet(t, c)
	}
	calls, _ := s.count()
	calls-- // the first, successful fetch
	// The first 429 comes at 90–100 ms (refresh-ahead or first stale Get),
	// then one call per 50 ms Retry-After: 9 calls in 500 ms.
	if calls < 8 || calls > 10 {
		t.Errorf("fetch calls in %d ms of 429s = %d, want 9 ± 1 (Retry-After 50 ms)", window, calls)
	}
	if bad != 0 {
		t.Errorf("%d Gets did not return the cached value during the 429 storm", bad)
	}
}

func TestColdKeyThrottledThenRetried(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, cache.Options{RetryAfter: retryAfter})
	s := newSource("", "")
	s.set("", "", &throttle{after: 30 * time.Millisecond})
	k := key("a")

	_, err := c.Get(context.Background(), k, s.Fetch)
	var th *throttle
	if !errors.As(err, &th) {
		t.Fatalf("first Get error = %v, want the 429", err)
	}
	_, err = c.Get(context.Background(), k, s.Fetch)
	if !errors.Is(err, cache.ErrThrottled) || !errors.As(err, &th) {
		t.Errorf("Get within Retry-After: error = %v, want ErrThrottled wrapping the 429", err)
	}
	if calls, _ := s.count(); calls != 1 {
		t.Errorf("calls within Retry-After = %d, want 1", calls)
	}
	s.set("v1", "one", nil)
	clk.Advance(33 * time.Millisecond) // Retry-After and its jitter of up to a tenth
	if diff := cmp.Diff(got{Version: "v1", Bytes: "one"}, get(t, c, k, s)); diff != "" {
		t.Errorf("Get after Retry-After (-want +got):\n%s", diff)
	}
}

func TestFailedColdFetchIsNotCached(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, cache.Options{})
	s := newSource("", "")
	s.set("", "", errDown)
	k := key("a")

	if _, err := c.Get(context.Background(), k, s.Fetch); !errors.Is(err, errDown) {
		t.Fatalf("Get error = %v, want %v", err, errDown)
	}
	s.set("v1", "one", nil)
	if diff := cmp.Diff(got{Version: "v1", Bytes: "one"}, get(t, c, k, s)); diff != "" {
		t.Errorf("next Get (-want +got):\n%s", diff)
	}
	if calls, _ := s.count(); calls != 2 {
		t.Errorf("calls = %d, want 2", calls)
	}
}

func TestByteBoundEvictsLeastRecentlyUsedAndZeroes(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, cache.Options{MaxBytes: 30})
	src := map[string]*source{}
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		src[name] = newSource("v1", name+"-10bytes"+name) // 10 bytes
		if len(src[name].val.Bytes) != 10 {
			t.Fatalf("fixture: %q is not 10 bytes", src[name].val.Bytes)
		}
	}
	for _, name := range []string{"a", "b", "c", "a", "d"} { // b is least recently used when d arrives
		get(t, c, key(name), src[name])
	}
	release := c.Hold(key("c"))
	defer release()
	get(t, c, key("e"), src["e"]) // c is oldest now but held: a goes

	present := map[string]bool{}
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		_, present[name] = c.Peek(key(name))
	}
	want := map[string]bool{"a": false, "b": false, "c": true, "d": true, "e": true}
	if diff := cmp.Diff(want, present); diff != "" {
		t.Errorf("present after eviction (-want +got):\n%s", diff)
	}
	for _, name := range []string{"a", "b"} {
		if b := src[name].givenAt(0); !bytes.Equal(b, make([]byte, 10)) {
			t.Errorf("evicted %s bytes = %q, want zeroed", name, b)
		}
	}
	if b := src["c"].givenAt(0); string(b) != "c-10bytesc" {
		t.Errorf("cached c bytes = %q, want intact", b)
	}
	st := c.Stats()
	if diff := cmp.Diff([3]int64{3, 30, 2}, [3]int64{int64(st.Entries), st.Bytes, int64(st.Evictions)}); diff != "" {
		t.Errorf("entries, bytes, evictions (-want +got):\n%s", diff)
	}
}

func TestReplacedBytesZeroedAndCallersGetCopies(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, cache.Options{})
	s := newSource("v1", "one")
	k := key("a")
	v, err := c.Get(context.Background(), k, s.Fetch)
	if err != nil {
		t.Fatal(err)
	}
	clear(v.Bytes) // a caller scribbling on its copy
	if diff := cmp.Diff(got{Version: "v1", Bytes: "one"}, get(t, c, k, s)); diff != "" {
		t.Errorf("Get after caller modified its copy (-want +got):\n%s", diff)
	}
	s.set("v2", "two", nil)
	if err := c.Refresh(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	// A refresh of the held key may be appending to given meanwhile.
	if b := s.givenAt(0); !bytes.Equal(b, []byte{0, 0, 0}) {
		t.Errorf("replaced bytes = %q, want zeroed", b)
	}
}

func TestPinnedVersionNeverRefetched(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, cache.Options{})
	s := newSource("v1", "one")
	k := key("a")
	k.Version = "v1"
	release := c.Hold(k)
	defer release()
	get(t, c, k, s)
	s.set("v2", "two", nil)
	for range 5 {
		clk.Advance(3 * ttl)
		if diff := cmp.Diff(got{Version: "v1", Bytes: "one"}, get(t, c, k, s)); diff != "" {
			t.Errorf("pinned Get (-want +got):\n%s", diff)
		}
	}
	if err := c.Refresh(context.Background(), k); err != nil {
		t.Errorf("Refresh of pinned key: %v", err)
	}
	if calls, _ := s.count(); calls != 1 {
		t.Errorf("calls = %d, want 1", calls)
	}
}

func TestIdentitiesNeverShareEntries(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, cache.Options{})
	ka, kb := key("db"), key("db")
	kb.ClientID = "other-client"
	sa, sb := newSource("v1", "for-a"), newSource("v1", "for-b")

	gotBoth := []got{get(t, c, ka, sa), get(t, c, kb, sb), get(t, c, ka, sa), get(t, c, kb, sb)}
	want := []got{{"v1", "for-a", false}, {"v1", "for-b", false}, {"v1", "for-a", false}, {"v1", "for-b", false}}
	if diff := cmp.Diff(want, gotBoth); diff != "" {
		t.Errorf("Gets (-want +got):\n%s", diff)
	}
	ca, _ := sa.count()
	cb, _ := sb.count()
	if ca != 1 || cb != 1 {
		t.Errorf("calls = %d, %d, want 1 each", ca, cb)
	}
}

func TestRefreshForcesFetch(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, cache.Options{})
	var n notes
	defer c.Subscribe(n.add)()
	s := newSource("v1", "one")
	k := key("a")

	if err := c.Refresh(context.Background(), k); !errors.Is(err, cache.ErrNotCached) {
		t.Errorf("Refresh of unknown key = %v, want ErrNotCached", err)
	}
	get(t, c, k, s)
	s.set("v2", "two", nil)
	if err := c.Refresh(context.Background(), k); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if diff := cmp.Diff(got{Version: "v2", Bytes: "two"}, get(t, c, k, s)); diff != "" {
		t.Errorf("Get after Refresh (-want +got):\n%s", diff)
	}
	eventually(t, "notification", func() bool { return len(n.list()) == 1 })

	s.set("", "", errDown)
	if err := c.Refresh(context.Background(), k); !errors.Is(err, errDown) {
		t.Errorf("failing Refresh = %v, want %v", err, errDown)
	}
	if diff := cmp.Diff(got{Version: "v2", Bytes: "two"}, get(t, c, k, s)); diff != "" {
		t.Errorf("Get after failed Refresh (-want +got):\n%s", diff)
	}
	if calls, _ := s.count(); calls != 3 {
		t.Errorf("calls = %d, want 3", calls)
	}
}

func TestRevokedAccessServedOnlyForGrace(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, cache.Options{
		Revoked:    func(err error) bool { return errors.Is(err, errDenied) },
		Grace:      ttl,
		MinBackoff: time.Second, // no retries within this test's fake time
	})
	s := newSource("v1", "one")
	k := key("a")
	get(t, c, k, s)
	s.set("", "", errDenied)
	clk.Advance(ttl)
	if diff := cmp.Diff(got{Version: "v1", Bytes: "one"}, get(t, c, k, s)); diff != "" {
		t.Errorf("Get within grace (-want +got):\n%s", diff)
	}
	eventually(t, "refresh fails", func() bool { return c.Stats().FetchErrors == 1 })
	quiet(t, c)

	clk.Advance(ttl)
	if _, err := c.Get(context.Background(), k, s.Fetch); !errors.Is(err, cache.ErrRevoked) || !errors.Is(err, errDenied) {
		t.Errorf("Get after grace: error = %v, want ErrRevoked wrapping %v", err, errDenied)
	}
	if _, ok := c.Peek(k); ok {
		t.Error("Peek after grace found the revoked value")
	}

	s.set("v1", "one", nil)
	clk.Advance(time.Second + time.Second/5) // MinBackoff and its jitter of up to a fifth
	if diff := cmp.Diff(got{Version: "v1", Bytes: "one"}, get(t, c, k, s)); diff != "" {
		t.Errorf("Get after access restored (-want +got):\n%s", diff)
	}
}

func TestWaiterRetriesWhenLeaderGivesUp(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, cache.Options{})
	s := newSource("v1", "one")
	gate := make(chan struct{})
	s.setGate(gate)
	k := key("a")

	ctx, cancel := context.WithCancel(context.Background())
	leader := make(chan error, 1)
	go func() {
		_, err := c.Get(ctx, k, s.Fetch)
		leader <- err
	}()
	eventually(t, "leader fetching", func() bool { calls, _ := s.count(); return calls == 1 })
	waiter := make(chan got, 1)
	go func() {
		v, err := c.Get(context.Background(), k, s.Fetch)
		waiter <- got{Version: v.Version, Bytes: string(v.Bytes), Err: err != nil}
	}()
	eventually(t, "waiter waiting", func() bool { return c.Stats().Misses == 2 })

	short, cancelShort := context.WithCancel(context.Background())
	cancelShort()
	if _, err := c.Get(short, k, s.Fetch); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with canceled context = %v, want context.Canceled", err)
	}

	cancel()
	if err := <-leader; !errors.Is(err, context.Canceled) {
		t.Errorf("leader error = %v, want context.Canceled", err)
	}
	eventually(t, "waiter fetching", func() bool { calls, _ := s.count(); return calls == 2 })
	close(gate)
	if diff := cmp.Diff(got{Version: "v1", Bytes: "one"}, <-waiter); diff != "" {
		t.Errorf("waiter (-want +got):\n%s", diff)
	}
}

func TestCloseStopsBackgroundWorkAndGetStillWorks(t *testing.T) {
	clk := newClock()
	c := cache.New(cache.Options{TTL: ttl, Now: clk.Now})
	s := newSource("v1", "one")
	k := key("a")
	get(t, c, k, s)

	s.setGate(make(chan struct{})) // never opened: only cancellation ends the fetch
	clk.Advance(ttl)
	get(t, c, k, s)
	eventually(t, "background refresh started", func() bool { calls, _ := s.count(); return calls == 2 })

	c.Close()
	if calls, finished := s.count(); finished != calls {
		t.Errorf("after Close %d of %d fetches still running", calls-finished, calls)
	}
	goleak.VerifyNone(t, goleak.IgnoreCurrent())

	s.setGate(nil)
	s.set("v2", "two", nil)
	if diff := cmp.Diff(got{Version: "v2", Bytes: "two"}, get(t, c, k, s)); diff != "" {
		t.Errorf("Get after Close (-want +got):\n%s", diff)
	}
	c.Close() // idempotent
}

func TestGetWithoutFetch(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, cache.Options{})
	if _, err := c.Get(context.Background(), key("a"), nil); !errors.Is(err, cache.ErrNoFetch) {
		t.Errorf("Get(nil fetch) = %v, want ErrNoFetch", err)
	}
	s := newSource("v1", "one")
	get(t, c, key("a"), s)
	if diff := cmp.Diff(got{Version: "v1", Bytes: "one"}, get(t, c, key("a"), nil)); diff != "" {
		t.Errorf("Get(nil fetch) of cached key (-want +got):\n%s", diff)
	}
}

func TestIdleEntriesDropped(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, cache.Options{MaxIdle: 3 * ttl})
	s := newSource("v1", "one")
	get(t, c, key("idle"), s)
	release := c.Hold(key("held"))
	defer release()
	get(t, c, key("held"), s)
	clk.Advance(3 * ttl)
	eventually(t, "idle entry dropped", func() bool { _, ok := c.Peek(key("idle")); return !ok })
	if _, ok := c.Peek(key("held")); !ok {
		t.Error("held entry was dropped as idle")
	}
	// A refresh of the held key may be appending to given meanwhile.
	if b := s.givenAt(0); !bytes.Equal(b, []byte{0, 0, 0}) {
		t.Errorf("idle entry bytes = %q, want zeroed", b)
	}
}

func TestRecentlyReadEntryRefreshedAheadWithoutReaders(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, cache.Options{})
	s := newSource("v1", "one")
	k := key("a")
	get(t, c, k, s)
	s.set("v2", "two", nil)
	clk.Advance(ttl - ttl/20) // within the last tick before expiry, read within TTL

	eventually(t, "background refresh", func() bool { v, _ := c.Peek(k); return v.Version == "v2" })
	if st := c.Stats(); st.Stale != 0 || st.Misses != 1 {
		t.Errorf("Stats = %+v, want no stale reads and only the first miss", st)
	}
}
