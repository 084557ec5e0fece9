//go:build linux

package fusefs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// versionSet holds file versions of distinct lengths whose bytes are a
// function of the length alone. A read verifies iff its bytes equal the
// version of its length: a truncated, zero-padded or mixed read has either a
// length no version has or bytes that differ.
type versionSet struct {
	byLen map[int][]byte
	lens  []int
}

func newVersionSet(rng *rand.Rand, n, maxLen int) *versionSet {
	vs := &versionSet{byLen: map[int][]byte{}}
	for _, l := range []int{1, 2, 100, 4095, 4096, 4097, 8192, 8193, 12288, maxLen} {
		vs.add(l)
	}
	for len(vs.lens) < n {
		vs.add(1 + rng.IntN(maxLen))
	}
	return vs
}

func (vs *versionSet) add(n int) {
	if _, ok := vs.byLen[n]; ok {
		return
	}
	b := make([]byte, n)
	x := uint64(n)*0x9E3779B97F4A7C15 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	vs.byLen[n] = b
	vs.lens = append(vs.lens, n)
}

func (vs *versionSet) verify(b []byte) error {
	want, ok := vs.byLen[len(b)]
	switch {
	case len(b) == 0:
		return fmt.Errorf("empty read")
	case !ok:
		return fmt.Errorf("%d bytes: no version has that length (truncated or padded)", len(b))
	case !bytes.Equal(b, want):
		return fmt.Errorf("%d bytes: not the version of that length (mixed)", len(b))
	}
	return nil
}

// stressLog counts verified reads per reader kind and keeps the first
// failures; reader goroutines report here instead of calling t.Fatal.
type stressLog struct {
	mu       sync.Mutex
	reads    map[string]int // guarded by mu
	failures []string       // guarded by mu
	failed   int            // guarded by mu
}

func (l *stressLog) record(kind string, b []byte, err error, vs *versionSet) {
	if err == nil {
		err = vs.verify(b)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reads[kind]++
	if err != nil {
		l.failed++
		if len(l.failures) < 10 {
			l.failures = append(l.failures, kind+": "+err.Error())
		}
	}
}

// TestRotationStress: readers in this process (whole-file and small-chunk)
// and reader processes (cat, dd bs=512) read a file in a loop while
// versions of 1 B … 25 KiB rotate about every millisecond. Every single read
// must be exactly one version.
func TestRotationStress(t *testing.T) {
	const duration = 3 * time.Second
	rng := rand.New(rand.NewPCG(1, 2))
	vs := newVersionSet(rng, 48, 25*1024)
	src := newMemSource(nil)
	src.set("rotating", vs.byLen[vs.lens[0]])
	m, dir := mountT(t, []File{{Path: "rotating", Mode: 0o644}}, src, Options{})
	p := filepath.Join(dir, "rotating")

	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	log := &stressLog{reads: map[string]int{}}
	var wg sync.WaitGroup
	readers := map[string]func() ([]byte, error){
		"ReadFile":       func() ([]byte, error) { return os.ReadFile(p) },
		"ReadFile#2":     func() ([]byte, error) { return os.ReadFile(p) },
		"chunks of 1000": func() ([]byte, error) { return readChunks(p, 1000) },
		"cat":            func() ([]byte, error) { return exec.CommandContext(ctx, "cat", p).Output() },
		"dd bs=512": func() ([]byte, error) {
			return exec.CommandContext(ctx, "dd", "if="+p, "bs=512", "status=none").Output()
		},
	}
	for kind, read := range readers {
		wg.Go(func() {
			for ctx.Err() == nil {
				b, err := read()
				if ctx.Err() != nil {
					return // a process killed at the deadline is no failure
				}
				log.record(kind, b, err, vs)
			}
		})
	}
	wg.Go(func() { // attribute traffic racing the rotations
		for ctx.Err() == nil {
			os.Stat(p)
		}
	})
	var rotations atomic.Int64
	wg.Go(func() {
		cur := vs.lens[0]
		for ctx.Err() == nil {
			next := vs.lens[rng.IntN(len(vs.lens))]
			if next == cur {
				continue
			}
			cur = next
			src.set("rotating", vs.byLen[cur])
			m.Changed("rotating")
			rotations.Add(1)
			time.Sleep(time.Millisecond)
		}
	})
	wg.Wait()

	t.Logf("%d rotations; verified reads: %v", rotations.Load(), log.reads)
	if log.failed > 0 {
		t.Errorf("%d torn reads, first: %q", log.failed, log.failures)
	}
	for kind := range readers {
		if log.reads[kind] == 0 {
			t.Errorf("reader %q never completed a read", kind)
		}
	}
	if rotations.Load() < 2 {
		t.Errorf("only %d rotations", rotations.Load())
	}
}

// readChunks reads p to EOF in n-byte read calls.
func readChunks(p string, n int) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []byte
	buf := make([]byte, n)
	for {
		k, err := f.Read(buf)
		out = append(out, buf[:k]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}
