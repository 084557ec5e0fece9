package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"syscall"
)

// maxInputSize bounds the files `secretfs mount` reads (a SecretProviderClass
// manifest, a credentials map): far above any real one.
const maxInputSize = 1 << 20

// readInput reads a small regular file without ever blocking on it: opened
// with O_NONBLOCK (a FIFO opens at once instead of waiting for a writer), it
// must be a regular file of at most maxInputSize bytes, and ctx is checked
// between reads, so Ctrl-C ends the command here too.
func readInput(ctx context.Context, path string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(ctxReader{ctx, f}, maxInputSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxInputSize {
		return nil, fmt.Errorf("%s: larger than %d MiB", path, maxInputSize>>20)
	}
	return b, nil
}

// ctxReader stops reading once ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
