package secretsync

import (
	"errors"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are upstream's sync and rotation metrics (upstream declares the
// sync ones but never records them) plus an error counter for sync. Labels
// hold only bounded values.
type metrics struct {
	sync      *prometheus.CounterVec
	syncErr   *prometheus.CounterVec
	syncDur   *prometheus.HistogramVec
	rotations *prometheus.CounterVec
	rotateErr *prometheus.CounterVec
	rotateDur *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		sync: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sync_k8s_secret_total", Help: "Kubernetes Secrets created or updated by secret sync.",
		}, []string{"os_type", "provider"}),
		syncErr: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sync_k8s_secret_error_total", Help: "Failed secret sync reconciles, by error type (unmanaged: a Secret of that name exists without the managed label).",
		}, []string{"os_type", "error_type"}),
		syncDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "k8s_secret_duration_sec", Help: "Time to create or update one synced Secret.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"os_type"}),
		rotations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rotation_reconcile_total", Help: "Reconciles after a new Key Vault version, by whether a Secret or status changed.",
		}, []string{"os_type", "rotated"}),
		rotateErr: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rotation_reconcile_error_total", Help: "Failed reconciles after a new Key Vault version.",
		}, []string{"os_type", "rotated", "error_type"}),
		rotateDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rotation_reconcile_duration_sec", Help: "Time to bring Secrets and status in step after a new Key Vault version.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"os_type"}),
	}
	if reg != nil {
		m.sync, m.syncErr, m.syncDur = register(reg, m.sync), register(reg, m.syncErr), register(reg, m.syncDur)
		m.rotations, m.rotateErr, m.rotateDur = register(reg, m.rotations), register(reg, m.rotateErr), register(reg, m.rotateDur)
	}
	return m
}

// register registers c, or returns the equal collector already there.
func register[T prometheus.Collector](reg prometheus.Registerer, c T) T {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing
		}
	}
	return c
}

func (m *metrics) now() time.Time { return time.Now() }

func (m *metrics) synced(start time.Time, out outcome) {
	if out == unchanged {
		return
	}
	m.syncDur.WithLabelValues(runtime.GOOS).Observe(time.Since(start).Seconds())
	m.sync.WithLabelValues(runtime.GOOS, "azure").Inc()
}

func (m *metrics) rotation(start time.Time, rotated bool, err error) {
	m.rotateDur.WithLabelValues(runtime.GOOS).Observe(time.Since(start).Seconds())
	label := "false"
	if rotated {
		label = "true"
	}
	if err != nil {
		m.rotateErr.WithLabelValues(runtime.GOOS, label, errorType(err)).Inc()
		return
	}
	m.rotations.WithLabelValues(runtime.GOOS, label).Inc()
}

func (m *metrics) failed(s snapshot, err error) {
	m.syncErr.WithLabelValues(runtime.GOOS, errorType(err)).Inc()
}

// errorType is a bounded label for err.
func errorType(err error) string {
	var p permanentError
	switch {
	case errors.Is(err, errUnmanaged):
		return "unmanaged"
	case errors.As(err, &p):
		return "invalid"
	}
	return "api"
}
