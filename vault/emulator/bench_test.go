package emulator_test

import (
	"context"
	"testing"
	"time"

	"github.com/secretfs/secretfs/vault/emulator"
	"github.com/secretfs/secretfs/vault/emulator/emulatortest"
)

// BenchmarkGetSecret measures one warm GetSecret through the real SDK (TLS, bearer token, JSON),
// with and without injected latency; overhead-µs/op is the time beyond the latency, i.e. what the
// emulator and the SDK add to any benchmark built on them.
func BenchmarkGetSecret(b *testing.B) {
	for _, latency := range []time.Duration{0, 20 * time.Millisecond} {
		b.Run("latency="+latency.String(), func(b *testing.B) {
			s := emulatortest.Start(b)
			s.AddServicePrincipal("app", "pw")
			s.Grant("app", "kv1", emulator.Read)
			s.SetSecret("kv1", "s", "value", "")
			c := secretsClient(b, s, "kv1", clientSecretCred(b, s, "app", "pw"))
			ctx := context.Background()
			if _, err := c.GetSecret(ctx, "s", "", nil); err != nil { // warm the token and connection
				b.Fatal(err)
			}
			s.SetLatency(latency)
			start := time.Now()
			for b.Loop() {
				if _, err := c.GetSecret(ctx, "s", "", nil); err != nil {
					b.Fatal(err)
				}
			}
			perOp := time.Since(start) / time.Duration(b.N)
			b.ReportMetric(float64((perOp - latency).Microseconds()), "overhead-µs/op")
		})
	}
}

// BenchmarkGetSecretParallel measures throughput of warm GetSecret calls from many goroutines.
func BenchmarkGetSecretParallel(b *testing.B) {
	s := emulatortest.Start(b)
	s.AddServicePrincipal("app", "pw")
	s.Grant("app", "kv1", emulator.Read)
	s.SetSecret("kv1", "s", "value", "")
	c := secretsClient(b, s, "kv1", clientSecretCred(b, s, "app", "pw"))
	if _, err := c.GetSecret(context.Background(), "s", "", nil); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.GetSecret(context.Background(), "s", "", nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
