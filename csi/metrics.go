package csi

import (
	"errors"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the upstream driver's counters (names and labels that
// users' dashboards query) plus duration histograms. Labels hold only
// bounded values: the OS, the provider ("azure" or ""), a gRPC code name.
type metrics struct {
	publish, unpublish       *prometheus.CounterVec
	publishErr, unpublishErr *prometheus.CounterVec
	publishDur, unpublishDur *prometheus.HistogramVec
}

// durationBuckets span a kernel-cached republish (sub-millisecond) to a
// slow Key Vault fetch under throttling (tens of seconds).
var durationBuckets = prometheus.ExponentialBuckets(0.0005, 2.5, 14)

// newMetrics registers the metrics with reg. A second NodeServer on the
// same registry shares the first one's collectors.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		publish: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "node_publish_total", Help: "Successful NodePublishVolume calls.",
		}, []string{"os_type", "provider"}),
		unpublish: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "node_unpublish_total", Help: "Successful NodeUnpublishVolume calls.",
		}, []string{"os_type"}),
		publishErr: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "node_publish_error_total", Help: "Failed NodePublishVolume calls, by gRPC code.",
		}, []string{"os_type", "provider", "error_type"}),
		unpublishErr: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "node_unpublish_error_total", Help: "Failed NodeUnpublishVolume calls.",
		}, []string{"os_type"}),
		publishDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "node_publish_duration_seconds", Help: "NodePublishVolume latency.", Buckets: durationBuckets,
		}, []string{"os_type"}),
		unpublishDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "node_unpublish_duration_seconds", Help: "NodeUnpublishVolume latency.", Buckets: durationBuckets,
		}, []string{"os_type"}),
	}
	m.publish, m.unpublish = register(reg, m.publish), register(reg, m.unpublish)
	m.publishErr, m.unpublishErr = register(reg, m.publishErr), register(reg, m.unpublishErr)
	m.publishDur, m.unpublishDur = register(reg, m.publishDur), register(reg, m.unpublishDur)
	return m
}

// register registers c, or returns the equal collector already there. A
// conflicting one (same name, other labels) leaves c unregistered: metrics
// are not worth failing the node for.
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

func (m *metrics) publishDone(start time.Time, provider string, err error) {
	m.publishDur.WithLabelValues(runtime.GOOS).Observe(time.Since(start).Seconds())
	if err != nil {
		m.publishErr.WithLabelValues(runtime.GOOS, provider, codeOf(err).String()).Inc()
		return
	}
	m.publish.WithLabelValues(runtime.GOOS, provider).Inc()
}

func (m *metrics) unpublishDone(start time.Time, err error) {
	m.unpublishDur.WithLabelValues(runtime.GOOS).Observe(time.Since(start).Seconds())
	if err != nil {
		m.unpublishErr.WithLabelValues(runtime.GOOS).Inc()
		return
	}
	m.unpublish.WithLabelValues(runtime.GOOS).Inc()
}
