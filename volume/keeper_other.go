//go:build !linux

package volume

import "errors"

// NewKeeperBackend is unavailable where FUSE is: volumes are files there,
// and files survive restarts without a keeper.
func NewKeeperBackend(socket string, opts FuseOptions) Backend { return keeperUnsupported{} }

type keeperUnsupported struct{}

func (keeperUnsupported) Name() string { return "fuse" }

func (keeperUnsupported) Mount(string, *Volume) (Mounted, error) {
	return nil, errors.New("the keeper backend needs Linux: use --backend=files")
}
