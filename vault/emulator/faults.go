package emulator

import (
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"maps"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault makes requests misbehave: authenticated data-plane requests (SetFault) or Entra ID token
// requests (SetTokenFault). The zero Kind answers Status, as Key Vault does when it throttles or
// fails; the other kinds are what a broken or hostile endpoint (or a TLS proxy in front of one) does.
type Fault struct {
	Kind       FaultKind
	Status     int           // FaultStatus: HTTP status to answer
	RetryAfter time.Duration // FaultStatus: sent as Retry-After (whole seconds, rounded up) and, if not whole, retry-after-ms; 0 sends none
	Remaining  int           // how many requests misbehave; 0 = until ClearFault
	// RetryAfterHeader, if set, is sent verbatim as Retry-After instead of RetryAfter (e.g.
	// "999999999", which no Duration holds).
	RetryAfterHeader string
	Size             int64         // FaultHugeValue: bytes of the value; default 512 MiB
	Interval         time.Duration // FaultSlowBody: pause before each byte of the body; default 1s
	Location         string        // FaultRedirect: base URL the 307 points to; the request's path and query are appended
}

// FaultKind is how a faulty request misbehaves.
type FaultKind int

const (
	// FaultStatus answers Status with a Key Vault (or, for the token endpoint, OAuth) error body.
	FaultStatus FaultKind = iota
	// FaultHang reads the request and never answers, until the client gives up or the server closes.
	FaultHang
	// FaultSlowBody sends the real response's headers at once, then its body one byte per Interval
	// (a slow loris).
	FaultSlowBody
	// FaultHugeValue answers 200 with a JSON body whose "value" is Size bytes, streamed from a
	// small buffer: the emulator never holds it in memory.
	FaultHugeValue
	// FaultNoValue answers the real 200 response without the object's value: no "value" for a
	// secret, no "key" for a key, no "cer" for a certificate.
	FaultNoValue
	// FaultEmptyBody answers 200 with the body {}.
	FaultEmptyBody
	// FaultWrongVersion answers the real 200 response with another (random) version id in the
	// object's id, as a proxy that serves the latest version for a pinned request would.
	FaultWrongVersion
	// FaultRedirect answers 307 Temporary Redirect to Location.
	FaultRedirect
)

// active reports whether f makes requests misbehave at all.
func (f Fault) active() bool { return f.Kind != FaultStatus || f.Status != 0 }

// SetLatency adds d to every authenticated Key Vault data-plane request. The token-less challenge
// answers at once, so a cold client pays the latency once per operation, as a warm one does.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetFault makes data-plane requests misbehave as f describes, after authentication and counting
// (so Count shows every attempt, retries included): the token-less challenge and the token endpoint
// keep working, as they do when only a vault (or the proxy in front of it) is broken.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// SetTokenFault makes Entra ID token requests misbehave as f describes, after counting them as
// "Token". FaultNoValue, FaultEmptyBody, FaultWrongVersion and FaultHugeValue answer {} there.
// Clear it with SetTokenFault(Fault{}).
func (s *Server) SetTokenFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenFault = f
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

// injectFault waits the latency, then takes one request of the current fault, if any. It reports
// whether it answered the request (or nothing more should be written); a fault that needs the real
// response comes back in shape instead.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request) (answered bool, shape Fault) {
	s.mu.Lock()
	delay := s.latency
	f := takeFault(&s.fault)
	s.mu.Unlock()
	if !s.sleep(r, delay) {
		return true, Fault{} // client gone or server closing; nothing useful to write
	}
	switch f.Kind {
	case FaultSlowBody, FaultNoValue, FaultWrongVersion:
		return false, f
	}
	return s.misbehave(w, r, f, writeKVError), Fault{}
}

// takeFault returns the fault for one request, consuming one of Remaining. Must hold s.mu.
func takeFault(cur *Fault) Fault {
	f := *cur
	if !f.active() {
		return Fault{}
	}
	if f.Remaining > 0 {
		if cur.Remaining--; cur.Remaining == 0 {
			*cur = Fault{}
		}
	}
	return f
}

// misbehave answers the request as f says, for the kinds that need no real response; it reports
// false (nothing written) for no fault. writeErr writes FaultStatus's error body.
func (s *Server) misbehave(w http.ResponseWriter, r *http.Request, f Fault, writeErr func(http.ResponseWriter, int, string, string)) bool {
	switch {
	case !f.active():
		return false
	case f.Kind == FaultHang:
		s.sleep(r, math.MaxInt64)
	case f.Kind == FaultRedirect:
		w.Header().Set("Location", strings.TrimSuffix(f.Location, "/")+r.URL.RequestURI())
		w.WriteHeader(http.StatusTemporaryRedirect)
	case f.Kind == FaultHugeValue:
		s.writeHugeValue(w, r, cmp.Or(f.Size, 512<<20))
	case f.Kind == FaultStatus:
		setRetryAfter(w, f)
		writeErr(w, f.Status, faultCode(f.Status), "Injected fault (SetFault).")
	default: // FaultEmptyBody, and the response-shaping kinds where there is nothing to shape
		writeJSON(w, http.StatusOK, struct{}{})
	}
	return true
}

// setRetryAfter sets the Retry-After headers of a FaultStatus.
func setRetryAfter(w http.ResponseWriter, f Fault) {
	switch {
	case f.RetryAfterHeader != "":
		w.Header().Set("Retry-After", f.RetryAfterHeader)
	case f.RetryAfter > 0:
		secs := (f.RetryAfter + time.Second - 1) / time.Second
		w.Header().Set("Retry-After", strconv.Itoa(int(secs)))
		if f.RetryAfter%time.Second != 0 {
			w.Header().Set("Retry-After-Ms", strconv.FormatInt(f.RetryAfter.Milliseconds(), 10))
		}
	}
}

// writeHugeValue streams a 200 secret bundle whose value is size bytes of 'A', from one small
// buffer, until done or the client leaves.
func (s *Server) writeHugeValue(w http.ResponseWriter, r *http.Request, size int64) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	id := "https://" + r.Host + r.URL.Path + "/" + randomHex(16)
	if _, err := io.WriteString(w, `{"id":"`+id+`","attributes":{"enabled":true},"value":"`); err != nil {
		return
	}
	chunk := bytes.Repeat([]byte{'A'}, 32<<10)
	for left := size; left > 0; left -= int64(len(chunk)) {
		if _, err := w.Write(chunk[:min(left, int64(len(chunk)))]); err != nil {
			return // the client stopped reading, as it should
		}
	}
	_, _ = io.WriteString(w, `"}`)
}

// shapeResponse runs h into a buffer and writes its response as f says: without the object's
// value, with another version id, or one byte per f.Interval. Error responses pass unchanged
// (but slowly, for FaultSlowBody).
func (s *Server) shapeResponse(w http.ResponseWriter, r *http.Request, f Fault, h func(http.ResponseWriter)) {
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	h(rec)
	body := rec.body.Bytes()
	if rec.status == http.StatusOK && f.Kind != FaultSlowBody {
		body = reshape(body, f.Kind)
	}
	maps.Copy(w.Header(), rec.header)
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.status)
	if f.Kind != FaultSlowBody {
		_, _ = w.Write(body)
		return
	}
	s.trickle(w, r, body, cmp.Or(f.Interval, time.Second))
}

// trickle writes body one byte per interval, flushing each, until done or the client leaves.
func (s *Server) trickle(w http.ResponseWriter, r *http.Request, body []byte, interval time.Duration) {
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	for i := range body {
		if !s.sleep(r, interval) {
			return
		}
		if _, err := w.Write(body[i : i+1]); err != nil {
			return
		}
		_ = rc.Flush()
	}
}

// reshape removes the object's value from a JSON bundle, or gives its id another version.
func reshape(body []byte, kind FaultKind) []byte {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return body
	}
	switch kind {
	case FaultNoValue:
		delete(m, "value") // secret
		delete(m, "key")   // key
		delete(m, "cer")   // certificate
	case FaultWrongVersion:
		if id, ok := m["id"].(string); ok {
			m["id"] = otherVersion(id)
		}
		if k, ok := m["key"].(map[string]any); ok {
			if kid, ok := k["kid"].(string); ok {
				k["kid"] = otherVersion(kid)
			}
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		return body
	}
	return out
}

// otherVersion replaces the version of an object id ".../<kind>/<name>/<version>" with a random one.
func otherVersion(id string) string {
	parts := strings.Split(id, "/")
	if len(parts) >= 6 { // https: "" host kind name version
		return strings.Join(parts[:5], "/") + "/" + randomHex(16)
	}
	return id + "/" + randomHex(16)
}

// recorder is an http.ResponseWriter that keeps the response, for shapeResponse.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(status int)      { r.status = status }

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
		answered, shape := s.injectFault(w, r)
		switch {
		case answered:
		case shape.active():
			s.shapeResponse(w, r, shape, func(w http.ResponseWriter) { h(w, r, vault) })
		default:
			h(w, r, vault)
		}
	}
}

// tokenFaulted answers a token request as the token fault says; it reports whether it did.
// FaultSlowBody trickles a real token response.
func (s *Server) tokenFaulted(w http.ResponseWriter, r *http.Request, issue func(http.ResponseWriter)) bool {
	s.mu.Lock()
	f := takeFault(&s.tokenFault)
	s.mu.Unlock()
	switch f.Kind {
	case FaultSlowBody:
		s.shapeResponse(w, r, f, issue)
		return true
	case FaultNoValue, FaultWrongVersion, FaultHugeValue:
		f.Kind = FaultEmptyBody
	}
	return s.misbehave(w, r, f, func(w http.ResponseWriter, status int, code, desc string) {
		writeOAuthError(w, status, code, desc)
	})
}
