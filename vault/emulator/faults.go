package emulator

import (
	"maps"
	"net/http"
	"strconv"
	"time"
)

// Fault makes authenticated data-plane requests fail with Status (e.g. 429 or 503).
type Fault struct {
	Status     int           // HTTP status to answer
	RetryAfter time.Duration // sent as Retry-After (whole seconds, rounded up) and, if not whole, retry-after-ms; 0 sends none
	Remaining  int           // how many requests fail; 0 = until ClearFault
}

// SetLatency adds d to every authenticated Key Vault data-plane request. The token-less challenge
// answers at once, so a cold client pays the latency once per operation, as a warm one does.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetFault makes data-plane requests fail as f describes, after authentication and counting (so
// Count shows every attempt, retries included).
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// ClearFault ends any fault.
func (s *Server) ClearFault() { s.SetFault(Fault{}) }

// SetOutage makes the whole data plane answer 503 ServiceUnavailable, before authentication, while
// down is true. Such requests count as "Outage".
func (s *Server) SetOutage(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = down
}

// Count returns how many requests of op were received: "GetSecret", "GetKey", "GetCertificate",
// "ListSecretVersions", "SetSecret", "Token", … Token-less requests count as "Challenge", requests
// with an invalid token as "Unauthorized", requests during an outage as "Outage".
func (s *Server) Count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[op]
}

// Counts returns a copy of all counters.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.counts)
}

// ResetCounts zeroes all counters.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.counts)
}

// inOutage answers 503 if the data plane is down.
func (s *Server) inOutage(w http.ResponseWriter) bool {
	s.mu.Lock()
	down := s.outage
	if down {
		s.counts["Outage"]++
	}
	s.mu.Unlock()
	if down {
		writeKVError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "The emulated Key Vault is in an outage (SetOutage).")
	}
	return down
}

// injectFault waits the latency, then answers the current fault if any, consuming one of Remaining.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	delay, f := s.latency, s.fault
	if f.Status != 0 && f.Remaining > 0 {
		if s.fault.Remaining--; s.fault.Remaining == 0 {
			s.fault = Fault{}
		}
	}
	s.mu.Unlock()
	if !s.sleep(r, delay) {
		return true // client gone or server closing; nothing useful to write
	}
	if f.Status == 0 {
		return false
	}
	if f.RetryAfter > 0 {
		secs := (f.RetryAfter + time.Second - 1) / time.Second
		w.Header().Set("Retry-After", strconv.Itoa(int(secs)))
		if f.RetryAfter%time.Second != 0 {
			w.Header().Set("Retry-After-Ms", strconv.FormatInt(f.RetryAfter.Milliseconds(), 10))
		}
	}
	writeKVError(w, f.Status, faultCode(f.Status), "Injected fault (SetFault).")
	return true
}

// sleep waits d unless the request is cancelled or the server closes; it reports whether d elapsed.
func (s *Server) sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-s.done:
	}
	return false
}

// faultCode is the Key Vault error code for an injected status.
func faultCode(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "Throttled"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailable"
	case http.StatusInternalServerError:
		return "InternalServerError"
	}
	return http.StatusText(status)
}

// vaultHandler serves one data-plane operation in one vault after authorization.
type vaultHandler func(w http.ResponseWriter, r *http.Request, vault string)

// op wraps h with, in order: outage, challenge/authorization (and counting), latency and faults.
func (s *Server) op(name string, need Perm, h vaultHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.inOutage(w) {
			return
		}
		vault := vaultName(r)
		if _, ok := s.authorize(w, r, name, vault, need); !ok {
			return
		}
		if s.injectFault(w, r) {
			return
		}
		h(w, r, vault)
	}
}
