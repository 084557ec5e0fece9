//go:build !linux

package fusefs

import (
	"errors"
	"fmt"
)

// Server is one served secretfs file system. FUSE is served on Linux only;
// elsewhere (Windows nodes) volumes are written as files instead.
type Server struct{}

// Mount is not supported on this platform.
func Mount(target string, files []File, src Source, opts Options) (*Server, error) {
	return nil, fmt.Errorf("fusefs: mount %s: FUSE is served on Linux only: %w", target, errors.ErrUnsupported)
}

// Serve is not supported on this platform.
func Serve(devFD string, files []File, src Source, opts Options) (*Server, error) {
	return nil, fmt.Errorf("fusefs: serve %s: FUSE is served on Linux only: %w", devFD, errors.ErrUnsupported)
}

// Changed does nothing: no Server exists on this platform.
func (m *Server) Changed(path string) {}

// Unmount does nothing: no Server exists on this platform.
func (m *Server) Unmount() error { return nil }

// Wait returns at once: no Server exists on this platform.
func (m *Server) Wait() {}
