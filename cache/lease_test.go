package cache_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/secretfs/secretfs/cache"
)

func mustLease(t *testing.T, c *cache.Cache, k cache.Key, s *source) *cache.Lease {
	t.Helper()
	l, err := c.Lease(context.Background(), k, s.Fetch)
	if err != nil {
		t.Fatalf("Lease(%s): %v", k.Name, err)
	}
	return l
}

// TestLeasesShareOneCopy: every Lease of a value is the cache's own slice,
// not a copy (N mounts of one object used to hold N+1 copies).
func TestLeasesShareOneCopy(t *testing.T) {
	c := newCache(t, newClock(), cache.Options{})
	s := newSource("v1", "secret-bytes")
	a, b := mustLease(t, c, key("a"), s), mustLease(t, c, key("a"), s)
	defer a.Release()
	defer b.Release()
	if string(a.Bytes()) != "secret-bytes" || a.Version() != "v1" {
		t.Fatalf("lease = %q %q, want the value", a.Bytes(), a.Version())
	}
	if &a.Bytes()[0] != &b.Bytes()[0] {
		t.Error("two leases of one value hold different copies")
	}
	if got := c.Stats().Bytes; got != int64(len("secret-bytes")) {
		t.Errorf("Stats.Bytes = %d, want one copy (%d)", got, len("secret-bytes"))
	}
}

// TestLentBytesOutliveReplacementThenAreZeroed: a rotation does not zero
// the bytes a lease still serves; they stay counted in the byte bound until
// released, then are zeroed.
func TestLentBytesOutliveReplacementThenAreZeroed(t *testing.T) {
	c := newCache(t, newClock(), cache.Options{})
	s := newSource("v1", "old-value")
	old := mustLease(t, c, key("a"), s)
	lent := old.Bytes()
	s.set("v2", "new-value!", nil)
	if err := c.Refresh(context.Background(), key("a")); err != nil {
		t.Fatal(err)
	}
	if string(lent) != "old-value" {
		t.Fatalf("lent bytes after a rotation = %q, want them intact", lent)
	}
	if got, want := c.Stats().Bytes, int64(len("old-value")+len("new-value!")); got != want {
		t.Errorf("Stats.Bytes with the old value lent = %d, want %d", got, want)
	}
	old.Release()
	old.Release() // idempotent
	if !bytes.Equal(lent, make([]byte, len(lent))) {
		t.Errorf("old bytes after the last release = %q, want zeroed", lent)
	}
	if got := c.Stats().Bytes; got != int64(len("new-value!")) {
		t.Errorf("Stats.Bytes after release = %d, want %d", got, len("new-value!"))
	}
	if got := get(t, c, key("a"), s); got.Bytes != "new-value!" {
		t.Errorf("Get after release = %+v", got)
	}
}

// TestLentEntriesAreNotEvicted: evicting a lent value would free nothing,
// so the byte bound evicts other entries; a value larger than the bound is
// still lent whole.
func TestLentEntriesAreNotEvicted(t *testing.T) {
	c := newCache(t, newClock(), cache.Options{MaxBytes: 10})
	lent := mustLease(t, c, key("lent"), newSource("v1", "12345678"))
	defer lent.Release()
	get(t, c, key("other"), newSource("v1", "abcdefgh"))
	if string(lent.Bytes()) != "12345678" {
		t.Fatalf("lent bytes after eviction pressure = %q", lent.Bytes())
	}
	if _, ok := c.Peek(key("lent")); !ok {
		t.Error("the lent entry was evicted")
	}
	big := mustLease(t, c, key("big"), newSource("v1", strings.Repeat("x", 64)))
	if len(big.Bytes()) != 64 || big.Bytes()[63] != 'x' {
		t.Errorf("value over the bound lent as %q", big.Bytes())
	}
	big.Release()
	if got := c.Stats().Bytes; got > 10 {
		t.Errorf("Stats.Bytes after releasing the big value = %d, want ≤ the bound", got)
	}
}
