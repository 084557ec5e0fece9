package vault

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"
)

func TestResolveAddr(t *testing.T) {
	resolve := map[string]string{"vault.test": "127.0.0.1:1", "login.test": "127.0.0.1:2"}
	for _, tc := range []struct{ in, want string }{
		{"myvault.vault.test:8443", "127.0.0.1:1"},
		{"vault.test:8443", "127.0.0.1:1"},
		{"login.test:8443", "127.0.0.1:2"},
		{"evilvault.test:8443", "evilvault.test:8443"},
		{"example.com:443", "example.com:443"},
		{"no-port", "no-port"},
	} {
		if got := resolveAddr(tc.in, resolve); got != tc.want {
			t.Errorf("resolveAddr(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestNewTransportCapsBodies: a body over MaxResponseBytes fails to read,
// whether its length is declared or it is chunked; one of exactly the cap
// reads whole.
func TestNewTransportCapsBodies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(n))
		}
		chunk := bytes.Repeat([]byte{'x'}, 4096)
		for left := n; left > 0; left -= len(chunk) {
			if _, err := w.Write(chunk[:min(left, len(chunk))]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	c, err := NewTransport("", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query   string
		tooMuch bool
	}{
		{fmt.Sprintf("n=%d", MaxResponseBytes), false},
		{fmt.Sprintf("n=%d&chunked=1", MaxResponseBytes), false},
		{fmt.Sprintf("n=%d", MaxResponseBytes+1), true},
		{fmt.Sprintf("n=%d&chunked=1", 8*MaxResponseBytes), true},
	} {
		n, err := get(c, srv.URL+"/?"+tc.query)
		if tc.tooMuch != isTooLarge(err) || (!tc.tooMuch && (err != nil || n != MaxResponseBytes)) {
			t.Errorf("%s: read %d bytes, error %v; want too large: %v", tc.query, n, err, tc.tooMuch)
		}
	}
}

func get(c *http.Client, url string) (int64, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return io.Copy(io.Discard, resp.Body)
}

// TestNewTransportBounds pins the bounds NewTransport promises: the phases
// of a request each have a timeout, and HTTP/2 connections are pinged.
func TestNewTransportBounds(t *testing.T) {
	c, err := NewTransport("", nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := c.Transport.(*guardedRoundTripper).next.(*http.Transport)
	got := []time.Duration{c.Timeout, tr.TLSHandshakeTimeout, tr.ResponseHeaderTimeout, tr.HTTP2.SendPingTimeout, tr.HTTP2.PingTimeout}
	want := []time.Duration{RequestTimeout, TLSHandshakeTimeout, ResponseHeaderTimeout, HTTP2PingInterval, HTTP2PingTimeout}
	if !slices.Equal(got, want) || c.CheckRedirect == nil {
		t.Errorf("bounds = %v, CheckRedirect set %v; want %v, true", got, c.CheckRedirect != nil, want)
	}
}
