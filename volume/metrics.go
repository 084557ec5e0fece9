package volume

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports the node cache's statistics. Labels never carry object
// names, values or identities.
func (n *Node) Collector() prometheus.Collector { return cacheCollector{n} }

type cacheCollector struct{ n *Node }

var (
	descHits      = prometheus.NewDesc("secretfs_cache_hits_total", "Cache reads answered without waiting for Key Vault.", nil, nil)
	descStale     = prometheus.NewDesc("secretfs_cache_stale_hits_total", "Of the hits, those answered with a value older than the TTL (refresh pending or failing).", nil, nil)
	descMisses    = prometheus.NewDesc("secretfs_cache_misses_total", "Cache reads that had to wait for Key Vault.", nil, nil)
	descFetches   = prometheus.NewDesc("secretfs_cache_fetches_total", "Fetches from Key Vault made by the cache.", nil, nil)
	descErrors    = prometheus.NewDesc("secretfs_cache_fetch_errors_total", "Fetches from Key Vault that failed.", nil, nil)
	descEntries   = prometheus.NewDesc("secretfs_cache_entries", "Objects held in the cache.", nil, nil)
	descBytes     = prometheus.NewDesc("secretfs_cache_bytes", "Bytes of object content held in the cache.", nil, nil)
	descStaleness = prometheus.NewDesc("secretfs_cache_staleness_seconds", "Age of the least recently refreshed object in use: how stale the stalest file a pod can read is.", nil, nil)
)

func (cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descHits, descStale, descMisses, descFetches, descErrors, descEntries, descBytes, descStaleness} {
		ch <- d
	}
}

func (c cacheCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.n.cache.Stats()
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter(descHits, s.Hits)
	counter(descStale, s.Stale)
	counter(descMisses, s.Misses)
	counter(descFetches, s.Fetches)
	counter(descErrors, s.FetchErrors)
	gauge(descEntries, float64(s.Entries))
	gauge(descBytes, float64(s.Bytes))
	gauge(descStaleness, s.Staleness.Seconds())
}

// ObserveRequests wraps the HTTP transport given to the Key Vault and Entra
// ID clients so every request, retries included, is counted by operation
// and status code (429s show as code="429").
func ObserveRequests(next policy.Transporter, reg prometheus.Registerer) policy.Transporter {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "secretfs_keyvault_requests_total",
		Help: "HTTP requests to Key Vault and Entra ID by operation and status code (code=\"error\" when no response).",
	}, []string{"operation", "code"})
	reg.MustRegister(vec)
	return observed{next: next, requests: vec}
}

type observed struct {
	next     policy.Transporter
	requests *prometheus.CounterVec
}

func (o observed) Do(req *http.Request) (*http.Response, error) {
	resp, err := o.next.Do(req)
	code := "error"
	if resp != nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	o.requests.WithLabelValues(operation(req), code).Inc()
	return resp, err
}

// operation names a request by its kind, never by object name:
// "get_secret", "list_secret_versions", "token", ….
func operation(req *http.Request) string {
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	if strings.HasSuffix(req.URL.Path, "/token") || strings.Contains(req.URL.Path, "/oauth2/") || req.URL.Query().Has("resource") {
		return "token"
	}
	kinds := map[string]string{"secrets": "secret", "keys": "key", "certificates": "certificate"}
	kind, ok := kinds[parts[0]]
	if !ok {
		return "other"
	}
	if len(parts) >= 3 && parts[2] == "versions" {
		return "list_" + kind + "_versions"
	}
	return strings.ToLower(req.Method) + "_" + kind
}
