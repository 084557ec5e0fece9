package volume_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/secretfs/secretfs/vault"
)

// liveHeap is the Go heap still reachable, after a collection.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestMountsOfOneObjectShareItsBytes: N FUSE mounts of one object hold
// one copy of it, the cache's, not one each (three 30 MB files reached
// 400 MB RSS with --cache-bytes 64 MiB). It compares the live heap of N
// mounts of large secrets with N mounts of small ones: the difference is
// what the large contents cost.
func TestMountsOfOneObjectShareItsBytes(t *testing.T) {
	// objects secrets of size bytes, within Key Vault's 25 KiB limit
	const mounts, objects, size = 32, 8, 24 << 10
	f := newFixture(t, time.Hour)
	m := newManager(t, f, "fuse")
	small := f.classOf(t, "small", objects)
	large := f.classOf(t, "large", objects)
	for i := range objects {
		f.kv.SetSecret(vaultName, fmt.Sprint("large-", i), strings.Repeat("s", size), "")
	}
	heldBy := func(p *vault.Params) int64 {
		before := liveHeap()
		var targets []string
		for i := range mounts {
			r := f.request(t, filepath.Join(t.TempDir(), fmt.Sprint("mnt", i)), clientA, f.secretA)
			r.Params = p
			if err := m.Mount(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			targets = append(targets, r.TargetPath)
			for _, o := range p.Objects {
				if got := readFile(t, filepath.Join(r.TargetPath, o.Name)); len(got) == 0 {
					t.Fatalf("%s is empty", o.Name)
				}
			}
		}
		held := liveHeap() - before
		for _, target := range targets {
			if err := m.Unmount(context.Background(), target); err != nil {
				t.Fatal(err)
			}
		}
		return held
	}
	heldBy(small) // warm up: the first mounts allocate what every later one reuses
	smallHeld := heldBy(small)
	largeHeld := heldBy(large)
	t.Logf("live heap of %d mounts of %d secrets: %d B with small ones, %d B with %d B ones", mounts, objects, smallHeld, largeHeld, size)
	if extra := largeHeld - smallHeld; extra > mounts*objects*size/4 {
		t.Errorf("%d mounts of %d objects of %d B hold %d B more than of small ones: want about one copy of each, not one per mount",
			mounts, objects, size, extra)
	}
}
