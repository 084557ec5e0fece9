//go:build !linux

package volume

import (
	"context"
	"errors"
	"log/slog"

	"github.com/secretfs/secretfs/csi"
)

// NewKeeperBackend is unavailable where FUSE is: volumes are files there,
// and files survive restarts without a keeper.
func NewKeeperBackend(socket string, opts FuseOptions) Backend { return keeperUnsupported{} }

type keeperUnsupported struct{}

func (keeperUnsupported) Name() string { return "fuse" }

func (keeperUnsupported) Mount(string, *Volume) (Mounted, error) {
	return nil, errors.New("the keeper backend needs Linux: use --backend=files")
}

// backendFor is the manager's backend: no keeper keeps memos here.
func (m *Manager) backendFor(csi.MountRequest) (Backend, error) { return m.backend, nil }

// remember does nothing: no keeper here.
func (m *Manager) remember(csi.MountRequest) error { return nil }

// Resume does nothing: files survive restarts without a keeper.
func (m *Manager) Resume(context.Context, *slog.Logger) ([]string, error) { return nil, nil }
