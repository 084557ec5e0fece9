//go:build linux

package fusefs

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// BenchmarkMountMemory reports the Go memory one mounted volume holds (heap
// and goroutine stacks, after GC), with three files read once: the target
// is ≤ 100 KiB per volume.
func BenchmarkMountMemory(b *testing.B) {
	requireFUSE(b)
	files := []File{{Path: "a", Mode: 0o644}, {Path: "b", Mode: 0o644}, {Path: "c/0", Mode: 0o644}}
	src := newMemSource(map[string]string{"a": "1", "b": string(benchData), "c/0": "3"})
	var total float64
	for b.Loop() {
		before := inUse()
		dir := b.TempDir()
		m, err := Mount(dir, files, src, Options{})
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range files {
			if _, err := os.ReadFile(filepath.Join(dir, f.Path)); err != nil {
				m.Unmount()
				b.Fatal(err)
			}
		}
		total += float64(inUse()) - float64(before)
		if err := m.Unmount(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(total/float64(b.N), "B/volume")
}

func inUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}
