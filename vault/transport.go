package vault

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// NewTransport returns the HTTP client secretfs gives to the Key Vault and
// Entra ID clients. caFile adds trusted CA certificates (PEM) to the system
// pool, for private clouds and the emulator. resolve maps a host suffix to
// the address to dial instead of DNS ("vault.test" → "127.0.0.1:8443" also
// serves "myvault.vault.test"), for names that are not in DNS. Empty
// arguments keep the system defaults.
func NewTransport(caFile string, resolve map[string]string) (*http.Client, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 16
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
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if len(resolve) > 0 {
		dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
		t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, resolveAddr(addr, resolve))
		}
	}
	return &http.Client{Transport: t}, nil
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
