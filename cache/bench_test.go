package cache_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/secretfs/secretfs/cache"
)

// BenchmarkGetHot measures Get on a fresh key, the path a FUSE read takes
// when the kernel asks. Compare with BenchmarkBaselineMapCopy, the least any
// cache returning a private copy can do.
func BenchmarkGetHot(b *testing.B) {
	for _, size := range []int{64, 4096} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			c := cache.New(cache.Options{})
			defer c.Close()
			k := key("hot")
			val := bytes.Repeat([]byte{'x'}, size)
			f := func(context.Context) (cache.Value, error) {
				return cache.Value{Bytes: bytes.Clone(val), Version: "v1"}, nil
			}
			ctx := context.Background()
			if _, err := c.Get(ctx, k, f); err != nil {
				b.Fatal(err)
			}
			b.Run("serial", func(b *testing.B) {
				for b.Loop() {
					if _, err := c.Get(ctx, k, f); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := c.Get(ctx, k, f); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}

// BenchmarkBaselineMapCopy is a mutex-guarded map lookup plus a copy: the
// floor for BenchmarkGetHot.
func BenchmarkBaselineMapCopy(b *testing.B) {
	for _, size := range []int{64, 4096} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			var mu sync.Mutex
			m := map[cache.Key][]byte{key("hot"): bytes.Repeat([]byte{'x'}, size)}
			k := key("hot")
			for b.Loop() {
				mu.Lock()
				v := bytes.Clone(m[k])
				mu.Unlock()
				_ = v
			}
		})
	}
}
