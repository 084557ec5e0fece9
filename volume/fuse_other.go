//go:build !linux

package volume

import "errors"

// FuseOptions are unused where FUSE is not supported.
type FuseOptions struct{}

func newFuseBackend(FuseOptions) (Backend, error) {
	return nil, errors.New("the fuse backend needs Linux: use --backend=files")
}
