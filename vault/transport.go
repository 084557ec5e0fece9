package vault

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// The network bounds of NewTransport. Key Vault and Entra ID answer in well
// under a second; these only cut off an endpoint that is broken or hostile
// (accepts and never answers, trickles a body, stalls a connection).
const (
	// DialTimeout bounds a TCP connect.
	DialTimeout = 10 * time.Second
	// TLSHandshakeTimeout bounds a TLS handshake.
	TLSHandshakeTimeout = 10 * time.Second
	// ResponseHeaderTimeout bounds the wait for response headers once the
	// request is written.
	ResponseHeaderTimeout = 30 * time.Second
	// RequestTimeout bounds one HTTP request of the Entra ID or Key Vault
	// clients from dial to the last byte of the body, so a slow-loris body
	// cannot hold a request open (http.Client.Timeout).
	RequestTimeout = time.Minute
	// HTTP2PingInterval is how long an HTTP/2 connection may be silent before
	// it is pinged, and HTTP2PingTimeout how long the ping may go unanswered
	// before the connection is closed (and every request on it fails).
	HTTP2PingInterval = 10 * time.Second
	HTTP2PingTimeout  = 5 * time.Second
)

// MaxResponseBytes bounds every response body NewTransport's client reads,
// Entra ID's token responses included; the Key Vault clients apply smaller
// caps per object type (see MaxSecretResponseBytes).
const MaxResponseBytes = 1 << 20

// NewTransport returns the HTTP client secretfs gives to the Key Vault and
// Entra ID clients. caFile adds trusted CA certificates (PEM) to the system
// pool, for private clouds and the emulator. resolve maps a host suffix to
// the address to dial instead of DNS ("vault.test" → "127.0.0.1:8443" also
// serves "myvault.vault.test"), for names that are not in DNS. Empty
// arguments keep the system defaults.
//
// The client never follows a redirect (Key Vault and Entra ID do not redirect
// these calls, and a followed 307 would carry the bearer token or re-post the
// client secret to wherever it points), bounds every phase of a request (see
// the timeouts above; HTTP/2 connections are health-checked with pings) and
// refuses response bodies over MaxResponseBytes.
func NewTransport(caFile string, resolve map[string]string) (*http.Client, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 16
	t.TLSHandshakeTimeout = TLSHandshakeTimeout
	t.ResponseHeaderTimeout = ResponseHeaderTimeout
	t.ExpectContinueTimeout = time.Second
	t.HTTP2 = &http.HTTP2Config{SendPingTimeout: HTTP2PingInterval, PingTimeout: HTTP2PingTimeout, WriteByteTimeout: ResponseHeaderTimeout}
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("reading CA file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
		}
		t.TLSClientConfig.RootCAs = pool
	}
	dialer := &net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, resolveAddr(addr, resolve))
	}
	return &http.Client{
		Transport:     &guardedRoundTripper{next: t, max: MaxResponseBytes, what: "an Entra ID or Key Vault"},
		CheckRedirect: refuseRedirect,
		Timeout:       RequestTimeout,
	}, nil
}

// refuseRedirect is an http.Client CheckRedirect that hands a redirect back
// to the caller instead of following it. guardedRoundTripper refuses
// redirects before the client sees them (the client rewinds a request body
// for a 307 before it asks CheckRedirect, racing the HTTP/2 writer still
// reading it); this is the second line.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// noRedirects returns hc with redirects refused, sharing its transport.
func noRedirects(hc *http.Client) *http.Client {
	c := *hc
	c.Transport = &guardedRoundTripper{next: cmp.Or[http.RoundTripper](hc.Transport, http.DefaultTransport)}
	c.CheckRedirect = refuseRedirect
	return &c
}

// redirectError is a 3xx response the transport refused to follow. It names
// only the scheme and host it pointed to, and is not retried.
type redirectError struct {
	status int
	to     string
}

func (e *redirectError) Error() string {
	return fmt.Sprintf("refused to follow a %d redirect to %s: Key Vault and Entra ID do not redirect, and the request carries a token or client secret", e.status, e.to)
}

// NonRetriable tells azcore's retry policy not to try again.
func (e *redirectError) NonRetriable() {}

// refuseRedirectResponse turns a 3xx response into a *redirectError.
func refuseRedirectResponse(resp *http.Response) error {
	if resp.StatusCode < 300 || resp.StatusCode > 399 || resp.StatusCode == http.StatusNotModified {
		return nil
	}
	to := "an unnamed location"
	if u, err := resp.Location(); err == nil {
		to = u.Scheme + "://" + u.Host
	}
	resp.Body.Close()
	return &redirectError{status: resp.StatusCode, to: to}
}

// resolveAddr returns the address resolve maps addr's host to, or addr.
func resolveAddr(addr string, resolve map[string]string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	for suffix, to := range resolve {
		if host == suffix || strings.HasSuffix(host, "."+suffix) {
			return to
		}
	}
	return addr
}

// guardedRoundTripper refuses redirects (see redirectError) and, if max > 0,
// response bodies over max bytes: a declared Content-Length at once, a
// chunked or decompressed body as soon as it passes the cap, so at most max
// bytes are ever buffered.
type guardedRoundTripper struct {
	next http.RoundTripper
	max  int64
	what string // what the responses are, for the error: "a secret"
}

func (g *guardedRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := g.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if err := refuseRedirectResponse(resp); err != nil {
		return nil, err
	}
	if g.max <= 0 {
		return resp, nil
	}
	return capBody(resp, g.max, g.what)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the transport.
func (g *guardedRoundTripper) CloseIdleConnections() {
	if ci, ok := g.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// capBody wraps resp.Body so reading past max fails with a *tooLargeError, or
// fails at once when Content-Length already says so.
func capBody(resp *http.Response, max int64, what string) (*http.Response, error) {
	if resp.ContentLength > max {
		resp.Body.Close()
		return nil, &tooLargeError{limit: max, what: what}
	}
	resp.Body = &cappedBody{rc: resp.Body, left: max, err: &tooLargeError{limit: max, what: what}}
	return resp, nil
}

// tooLargeError is a response body over the cap secretfs reads. It is not
// retried: the same object gives the same answer.
type tooLargeError struct {
	limit int64
	what  string // "a secret", "a key", "a certificate", "an Entra ID or Key Vault"
}

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("the response is larger than %s, the most secretfs reads for %s response", sizeString(e.limit), e.what)
}

// NonRetriable tells azcore's retry policy not to try again.
func (e *tooLargeError) NonRetriable() {}

// sizeString is a byte count as "256 KiB" or "1 MiB".
func sizeString(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// cappedBody reads at most left bytes and then fails with err.
type cappedBody struct {
	rc   io.ReadCloser
	left int64
	err  error
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One more byte tells a body of exactly the cap from a longer one.
		var one [1]byte
		if n, err := b.rc.Read(one[:]); n > 0 {
			return 0, b.err
		} else if err != nil {
			return 0, err
		}
		return 0, nil
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }

// isTooLarge reports whether err is a refused oversized body.
func isTooLarge(err error) bool {
	var tl *tooLargeError
	return errors.As(err, &tl)
}
