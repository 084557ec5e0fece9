package csi

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
)

// NodeServer serves the CSI Identity and Node services.
type NodeServer struct {
	csi.UnimplementedIdentityServer
	csi.UnimplementedNodeServer

	cfg     Config
	classes ClassGetter
	mounter Mounter
	metrics *metrics
	locks   targetLocks
	serving atomic.Bool // set while ServeListener runs; read by Probe
}

var (
	_ csi.IdentityServer = (*NodeServer)(nil)
	_ csi.NodeServer     = (*NodeServer)(nil)
)

// NewNodeServer returns a node service looking up classes in classes and
// mounting with m.
func NewNodeServer(cfg Config, classes ClassGetter, m Mounter) *NodeServer {
	cfg = cfg.withDefaults()
	return &NodeServer{cfg: cfg, classes: classes, mounter: m, metrics: newMetrics(cfg.Registerer)}
}

// Serve listens on endpoint (unix:///csi/csi.sock) and serves until ctx
// ends, then stops gracefully.
func (s *NodeServer) Serve(ctx context.Context, endpoint string) error {
	lis, err := Listen(endpoint)
	if err != nil {
		return err
	}
	return s.ServeListener(ctx, lis)
}

// ServeListener serves on lis until ctx ends; it closes lis. Calls in
// flight get Config.ShutdownGrace to finish, then are cut.
func (s *NodeServer) ServeListener(ctx context.Context, lis net.Listener) error {
	srv := grpc.NewServer(grpc.UnaryInterceptor(logCalls(s.cfg.Logger)))
	csi.RegisterIdentityServer(srv, s)
	csi.RegisterNodeServer(srv, s)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	s.serving.Store(true)
	defer s.serving.Store(false)
	select {
	case err := <-errc:
		return fmt.Errorf("serve csi on %s: %w", lis.Addr(), err)
	case <-ctx.Done():
	}
	stopGracefully(srv, s.cfg.ShutdownGrace)
	<-errc
	return nil
}

func stopGracefully(srv *grpc.Server, grace time.Duration) {
	done := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(done)
	}()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		srv.Stop()
		<-done
	}
}

// Listen opens the unix socket of endpoint ("unix:///path", "unix:/path"
// or a plain path), replacing a stale socket a previous run left behind.
// It refuses to remove anything that is not a socket.
func Listen(endpoint string) (net.Listener, error) {
	path, err := socketPath(endpoint)
	if err != nil {
		return nil, err
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create socket dir: %w", err)
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", endpoint, err)
	}
	return lis, nil
}

func socketPath(endpoint string) (string, error) {
	path := endpoint
	switch {
	case strings.HasPrefix(endpoint, "unix://"):
		path = strings.TrimPrefix(endpoint, "unix://")
	case strings.HasPrefix(endpoint, "unix:"):
		path = strings.TrimPrefix(endpoint, "unix:")
	case strings.Contains(endpoint, "://"):
		return "", fmt.Errorf("endpoint %q: only unix sockets are served (unix:///path)", endpoint)
	}
	if path == "" {
		return "", fmt.Errorf("endpoint %q: no socket path", endpoint)
	}
	return path, nil
}

func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("check socket %s: %w", path, err)
	case fi.Mode()&fs.ModeSocket == 0:
		return fmt.Errorf("socket path %s exists and is not a socket; remove it", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}
