//go:build linux

package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"golang.org/x/sys/unix"
)

// readerJob is what a reader process does, as a pod's process would: plain
// open/read/close (or pread) system calls on files it did not create.
type readerJob struct {
	// Mode: "open" times open+read-to-EOF+close, Iters times round-robin
	// over Paths; "pread" opens each path once and times pread at offset 0;
	// "first" times one open+read+close of each path (cold objects); "loop"
	// reads round-robin until For has passed and counts reads, errors and
	// reads whose bytes differ from Want.
	Mode  string        `json:"mode"`
	Paths []string      `json:"paths"`
	Iters int           `json:"iters,omitempty"`
	For   time.Duration `json:"for,omitempty"`
	Want  string        `json:"want,omitempty"`  // loop: expected bytes of every path ("" = any non-empty)
	Pause time.Duration `json:"pause,omitempty"` // loop: sleep between reads, to keep the CPU civil
}

// readerOut is a reader's report, printed as JSON.
type readerOut struct {
	Micros     []float64     `json:"micros,omitempty"` // "first": each read's latency
	Pct        []float64     `json:"pct,omitempty"`    // 0..100th percentile, µs, 101 points
	Ops        int           `json:"ops"`
	Errors     int           `json:"errors"`
	Mismatches int           `json:"mismatches"`
	Elapsed    time.Duration `json:"elapsed"`
	Err        string        `json:"err,omitempty"`
}

func runReaderChild(stdin io.Reader, stdout io.Writer) error {
	var job readerJob
	if err := json.NewDecoder(stdin).Decode(&job); err != nil {
		return fmt.Errorf("reader job: %w", err)
	}
	out, err := job.run()
	if err != nil {
		out.Err = err.Error()
	}
	return json.NewEncoder(stdout).Encode(out)
}

func (j readerJob) run() (readerOut, error) {
	if len(j.Paths) == 0 {
		return readerOut{}, fmt.Errorf("no paths")
	}
	buf := make([]byte, 64<<10)
	switch j.Mode {
	case "open":
		return j.timed(j.Iters, func(i int) error { _, err := readWhole(j.Paths[i%len(j.Paths)], buf); return err })
	case "pread":
		return j.pread()
	case "first":
		out, err := j.timed(len(j.Paths), func(i int) error { _, err := readWhole(j.Paths[i], buf); return err })
		out.Micros = out.Pct
		return out, err
	case "loop":
		return j.loop(buf), nil
	}
	return readerOut{}, fmt.Errorf("mode %q: want open, pread, first or loop", j.Mode)
}

// timed runs op n times, timing each call; it stops at the first error.
func (j readerJob) timed(n int, op func(i int) error) (readerOut, error) {
	ds := make([]time.Duration, n)
	start := time.Now()
	for i := range n {
		t0 := time.Now()
		if err := op(i); err != nil {
			return readerOut{Ops: i, Errors: 1}, err
		}
		ds[i] = time.Since(t0)
	}
	out := readerOut{Ops: n, Elapsed: time.Since(start)}
	us := durationsMicros(ds)
	if j.Mode == "first" {
		out.Pct = us
	} else {
		out.Pct = percentiles(us, 101)
	}
	return out, nil
}

// pread opens every path once and times pread(fd, 0) round-robin.
func (j readerJob) pread() (readerOut, error) {
	fds := make([]int, len(j.Paths))
	for i, p := range j.Paths {
		fd, err := unix.Open(p, unix.O_RDONLY, 0)
		if err != nil {
			return readerOut{}, fmt.Errorf("open %s: %w", p, err)
		}
		defer unix.Close(fd)
		fds[i] = fd
	}
	buf := make([]byte, 64<<10)
	return j.timed(j.Iters, func(i int) error {
		n, err := unix.Pread(fds[i%len(fds)], buf, 0)
		if err == nil && n == 0 {
			err = io.ErrUnexpectedEOF
		}
		return err
	})
}

// loop reads until For passes, counting instead of timing each read.
func (j readerJob) loop(buf []byte) readerOut {
	var out readerOut
	start := time.Now()
	for i := 0; time.Since(start) < j.For; i++ {
		b, err := readWhole(j.Paths[i%len(j.Paths)], buf)
		out.Ops++
		switch {
		case err != nil:
			out.Errors++
		case len(b) == 0 || (j.Want != "" && !bytes.Equal(b, []byte(j.Want))):
			out.Mismatches++
		}
		if j.Pause > 0 {
			time.Sleep(j.Pause)
		}
	}
	out.Elapsed = time.Since(start)
	return out
}

// readWhole is open + read to EOF + close with raw system calls, so the
// cost is the kernel's and the file system's, not Go's file poller's.
// The bytes land in buf (64 KiB: more than Key Vault's largest object), so
// no allocation disturbs the timing.
func readWhole(path string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(fd)
	total := 0
	for total < len(buf) {
		n, err := unix.Read(fd, buf[total:])
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		if n == 0 {
			break
		}
		total += n
	}
	return buf[:total], nil
}
