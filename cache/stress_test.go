package cache_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secretfs/secretfs/cache"
)

// TestConcurrentUseNeverMixesVersions hammers one cache from many goroutines
// with rotations, failures, evictions, holds and refreshes (on the real
// clock), and checks every value a reader sees is whole: its bytes are the
// bytes of its version. Under -race it also checks the copy discipline.
func TestConcurrentUseNeverMixesVersions(t *testing.T) {
	c := cache.New(cache.Options{TTL: 2 * time.Millisecond, MaxBytes: 800, MinBackoff: time.Millisecond})
	defer c.Close()
	var bad atomic.Int64
	check := func(v cache.Value) {
		if v.Version != "" && string(v.Bytes) != content(v.Version) {
			bad.Add(1)
		}
	}
	defer c.Subscribe(func(_ cache.Key, v cache.Value) { check(v) })()

	var version atomic.Int64
	fetch := func(ctx context.Context) (cache.Value, error) {
		n := version.Add(1)
		if n%7 == 0 {
			return cache.Value{}, errors.New("transient")
		}
		v := fmt.Sprintf("v%d", n)
		return cache.Value{Bytes: []byte(content(v)), Version: v}, nil
	}

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				k := key(fmt.Sprintf("obj%d", (g+i)%12))
				switch i % 10 {
				case 0:
					_ = c.Refresh(context.Background(), k)
				case 1:
					v, _ := c.Peek(k)
					check(v)
				case 2:
					c.Hold(k)()
				default:
					v, _ := c.Get(context.Background(), k, fetch)
					check(v)
					clear(v.Bytes) // callers own their copies
				}
			}
		})
	}
	wg.Wait()
	if n := bad.Load(); n > 0 {
		t.Errorf("%d values had bytes of another version", n)
	}
	if st := c.Stats(); st.Bytes > 800 || st.Evictions == 0 {
		t.Errorf("Stats.Bytes = %d, over MaxBytes 800 or no evictions (%d)", st.Bytes, st.Evictions)
	}
}

// content is the bytes of a version: 100 bytes that name it.
func content(version string) string {
	return strings.Repeat(version+";", 100)[:100]
}
