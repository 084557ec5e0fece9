package csi

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultDriverName is the CSI driver name when Config.DriverName is empty;
// it must match the CSIDriver object and the pods' volume driver field.
const DefaultDriverName = "secretfs.csi.io"

// defaultShutdownGrace bounds how long Serve waits for calls in flight.
const defaultShutdownGrace = 10 * time.Second

// Config holds what the node service needs from flags and wiring.
type Config struct {
	DriverName string // default DefaultDriverName
	Version    string // reported by GetPluginInfo
	NodeID     string // reported by NodeGetInfo: the Kubernetes node name
	Backend    string // "fuse" or "files", recorded in the state

	// State records published volumes; nil keeps them in memory only.
	// Build it with OpenState so entries of a previous run are kept.
	State *State
	// Logger receives one line per call, sanitized; nil discards.
	Logger *slog.Logger
	// Registerer receives the metrics; nil uses a private registry.
	Registerer prometheus.Registerer
	// CloudEnvDir is the only directory a SecretProviderClass's
	// cloudEnvFileName may name a file in; "" refuses custom clouds
	// (vault.ParseOptions).
	CloudEnvDir string
	// Ready, if set, is asked by Probe in addition to "serving": e.g. the
	// SecretProviderClass cache has synced.
	Ready func() bool
	// ShutdownGrace bounds how long Serve waits for calls in flight once
	// its context ends; default 10s.
	ShutdownGrace time.Duration
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	if c.DriverName == "" {
		c.DriverName = DefaultDriverName
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
	if c.State == nil {
		c.State = &State{entries: map[string]Entry{}}
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = defaultShutdownGrace
	}
	return c
}
