//go:build linux

package fusefs

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// benchData is the 4 KiB file every benchmark reads.
var benchData = bytes.Repeat([]byte("secret-4k."), 4096/10+1)[:4096]

// tmpfsLayout mounts a tmpfs and lays the file out as the upstream driver
// writes it: name -> ..data/name, ..data -> ..<timestamp>/. It returns the
// path a pod opens.
func tmpfsLayout(b *testing.B) string {
	b.Helper()
	requireFUSE(b) // root, for mount(2)
	dir := b.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		b.Fatalf("mount tmpfs: %v", err)
	}
	b.Cleanup(func() { syscall.Unmount(dir, 0) })
	ts := "..2026_11_28_16_00_00.000000001"
	must(b, os.Mkdir(filepath.Join(dir, ts), 0o755))
	must(b, os.WriteFile(filepath.Join(dir, ts, "name"), benchData, 0o644))
	must(b, os.Symlink(ts, filepath.Join(dir, "..data")))
	must(b, os.Symlink("..data/name", filepath.Join(dir, "name")))
	return filepath.Join(dir, "name")
}

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// fusePath mounts the file on FUSE and warms the kernel caches.
func fusePath(b *testing.B, opts Options) string {
	b.Helper()
	src := newMemSource(map[string]string{"name": string(benchData)})
	_, dir := mountT(b, []File{{Path: "name", Mode: 0o644}}, src, opts)
	p := filepath.Join(dir, "name")
	openReadClose(b, p, make([]byte, 8192))
	return p
}

// openReadClose is what a reader of a secret does: open, read to EOF,
// close, without Go's os.File overhead.
func openReadClose(b *testing.B, p string, buf []byte) {
	fd, err := syscall.Open(p, syscall.O_RDONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	total := 0
	for {
		n, err := syscall.Read(fd, buf)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			break
		}
		total += n
	}
	syscall.Close(fd)
	if total != len(benchData) {
		b.Fatalf("read %d bytes, want %d", total, len(benchData))
	}
}

func preadLoop(b *testing.B, p string) {
	fd, err := syscall.Open(p, syscall.O_RDONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer syscall.Close(fd)
	buf := make([]byte, 4096)
	for b.Loop() {
		if n, err := syscall.Pread(fd, buf, 0); err != nil || n != 4096 {
			b.Fatalf("pread: %d, %v", n, err)
		}
	}
}

// benchAgainstTmpfs runs op on tmpfs, then on FUSE in each serving mode,
// and reports each FUSE result as a ratio to tmpfs ("x-tmpfs"), measured in
// the same run. No assertion: the numbers are for the report.
func benchAgainstTmpfs(b *testing.B, op func(b *testing.B, p string)) {
	tmpfs := tmpfsLayout(b)
	var base float64
	b.Run("tmpfs", func(b *testing.B) {
		op(b, tmpfs)
		base = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	for _, mode := range modes {
		b.Run("fuse-"+mode.name, func(b *testing.B) {
			p := fusePath(b, mode.opts)
			op(b, p)
			if base > 0 {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/base, "x-tmpfs")
			}
		})
	}
}

// BenchmarkOpenReadClose: warm open+read+close of a 4 KiB file.
func BenchmarkOpenReadClose(b *testing.B) {
	benchAgainstTmpfs(b, func(b *testing.B, p string) {
		buf := make([]byte, 8192)
		for b.Loop() {
			openReadClose(b, p, buf)
		}
	})
}

// BenchmarkPread: pread of 4 KiB on an open fd.
func BenchmarkPread(b *testing.B) {
	benchAgainstTmpfs(b, preadLoop)
}
