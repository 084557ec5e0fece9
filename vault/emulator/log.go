package emulator

import (
	"io"
	"log"
)

// discardLog silences net/http's per-connection error log: TLS handshake noise from clients that
// hang up is expected in tests and would otherwise clutter their output.
func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
