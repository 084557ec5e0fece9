// Package emulatortest starts the Key Vault emulator for a test and wires up credentials, keeping
// the testing import out of package emulator (which the secretfs binary links for its demo).
package emulatortest

import (
	"testing"

	"github.com/secretfs/secretfs/vault/emulator"
)

// Start starts an emulator with a temp dir of its own and closes it when the test ends.
func Start(t testing.TB) *emulator.Server {
	t.Helper()
	s, err := emulator.Start(emulator.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("start Key Vault emulator: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close Key Vault emulator: %v", err)
		}
	})
	return s
}
