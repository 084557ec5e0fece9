//go:build !linux

package keeper

import (
	"errors"
	"log/slog"
	"time"
)

// Config configures a Keeper.
type Config struct {
	Socket    string
	HungAfter time.Duration
	KillHung  bool
	Log       *slog.Logger
}

// MountInfo describes a mount the keeper holds.
type MountInfo struct {
	Target  string `json:"target"`
	Served  bool   `json:"served"`
	Waiting int    `json:"waiting"`
}

// Keeper holds FUSE connections; there are none outside Linux.
type Keeper struct{}

var errUnsupported = errors.New("keeper: FUSE connections are kept on Linux only")

// Start is not supported on this platform.
func Start(Config) (*Keeper, error) { return nil, errUnsupported }

// Takeover is not supported on this platform.
func Takeover(Config) (*Keeper, error) { return nil, errUnsupported }

// Done returns a closed channel: no Keeper runs here.
func (k *Keeper) Done() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// Mounts returns nothing.
func (k *Keeper) Mounts() []MountInfo { return nil }

// Close does nothing.
func (k *Keeper) Close() error { return nil }
