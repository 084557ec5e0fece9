package emulator

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// DefaultTenantID is the tenant used when Options.TenantID is empty.
const DefaultTenantID = "72f988bf-0000-4000-8000-00000000e7a1"

// Options configures Start.
type Options struct {
	Addr     string // listen address; "" means 127.0.0.1:0
	Dir      string // where ca.pem and cloud.json are written; "" means a new temp dir removed on Close
	TenantID string // the emulator's tenant; "" means DefaultTenantID
}

// Server is a running emulator. All methods are safe for concurrent use.
//
// Lock order: mu is a leaf lock; no callback (such as a federated client's accept func) and no
// sleep runs while it is held.
type Server struct {
	tenant    string
	dir       string
	removeDir bool
	port      string
	auth      *authority
	client    *http.Client
	miHeader  string // the IDENTITY_HEADER secret the managed identity endpoint requires

	ln, miLn    net.Listener
	srv, miSrv  *http.Server
	serving     sync.WaitGroup
	done        chan struct{} // closed by Close; wakes latency sleeps
	closeOnce   sync.Once
	closeErr    error
	routes      *http.ServeMux // data-plane routes, shared by every vault host
	entraRoutes *http.ServeMux

	mu            sync.Mutex
	clients       map[string]*identity  // guarded by mu; by client ID
	grants        map[grantKey]Perm     // guarded by mu
	tokens        map[string]tokenInfo  // guarded by mu; by opaque token
	tokenLifetime time.Duration         // guarded by mu
	vaults        map[string]*vaultData // guarded by mu; by vault name
	latency       time.Duration         // guarded by mu
	fault         Fault                 // guarded by mu; inactive = none
	tokenFault    Fault                 // guarded by mu; inactive = none
	tokenError    TokenError            // guarded by mu; zero Status = none
	outage        bool                  // guarded by mu
	counts        map[string]int        // guarded by mu
}

// Start creates the CA, listens on opts.Addr (TLS, all hosts) and on a second loopback port (plain
// http, the managed identity endpoint), writes ca.pem and cloud.json, and serves until Close.
func Start(opts Options) (*Server, error) {
	s, err := newServer(opts)
	if err != nil {
		return nil, err
	}
	if err := s.listen(opts.Addr); err != nil {
		s.cleanupDir()
		return nil, err
	}
	if err := s.writeFiles(); err != nil {
		_ = s.Close()
		return nil, err
	}
	s.serve()
	return s, nil
}

// newServer builds the state that does not need a listener.
func newServer(opts Options) (*Server, error) {
	auth, err := newAuthority()
	if err != nil {
		return nil, err
	}
	s := &Server{
		tenant:        opts.TenantID,
		dir:           opts.Dir,
		auth:          auth,
		miHeader:      randomHex(16),
		done:          make(chan struct{}),
		clients:       map[string]*identity{},
		grants:        map[grantKey]Perm{},
		tokens:        map[string]tokenInfo{},
		tokenLifetime: time.Hour,
		vaults:        map[string]*vaultData{},
		counts:        map[string]int{},
	}
	if s.tenant == "" {
		s.tenant = DefaultTenantID
	}
	if s.dir == "" {
		if s.dir, err = os.MkdirTemp("", "kv-emulator-"); err != nil {
			return nil, fmt.Errorf("create emulator dir: %w", err)
		}
		s.removeDir = true
	} else if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("create emulator dir: %w", err)
	}
	s.routes = s.dataPlaneRoutes()
	s.entraRoutes = s.entraMux()
	return s, nil
}

// listen opens both listeners and builds the client that reaches them.
func (s *Server) listen(addr string) error {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	miLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ln.Close()
		return fmt.Errorf("listen for managed identity: %w", err)
	}
	s.ln, s.miLn = ln, miLn
	_, s.port, _ = net.SplitHostPort(ln.Addr().String())
	s.client = s.newHTTPClient()
	return nil
}

// serve starts the two HTTP servers; Close stops them and waits.
func (s *Server) serve() {
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.route),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{s.auth.server}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          discardLog(),
	}
	s.miSrv = &http.Server{Handler: http.HandlerFunc(s.serveManagedIdentity), ReadHeaderTimeout: 10 * time.Second}
	s.serving.Add(2)
	go func() { defer s.serving.Done(); _ = s.srv.ServeTLS(s.ln, "", "") }()
	go func() { defer s.serving.Done(); _ = s.miSrv.Serve(s.miLn) }()
}

// Close stops both listeners, drops open connections, wakes pending latency sleeps and removes the
// temp dir if Start created it. It is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		var errs []error
		if s.srv != nil {
			errs = append(errs, s.srv.Close(), s.miSrv.Close())
			s.serving.Wait()
		} else {
			s.ln.Close()
			s.miLn.Close()
		}
		s.client.CloseIdleConnections()
		errs = append(errs, s.cleanupDir())
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

func (s *Server) cleanupDir() error {
	if !s.removeDir {
		return nil
	}
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("remove emulator dir: %w", err)
	}
	return nil
}

// TenantID is the tenant the emulator issues tokens for.
func (s *Server) TenantID() string { return s.tenant }

// Addr is the host:port actually listened on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// VaultURL is the vault's base URL, "https://<vault>.vault.test:<port>/".
func (s *Server) VaultURL(vault string) string {
	return "https://" + vault + "." + s.VaultDNSSuffix() + "/"
}

// VaultDNSSuffix is "vault.test:<port>", as cloud.json's keyVaultDNSSuffix holds it.
func (s *Server) VaultDNSSuffix() string { return "vault.test:" + s.port }

// AuthorityHost is Entra ID's base URL, "https://login.test:<port>/".
func (s *Server) AuthorityHost() string { return "https://login.test:" + s.port + "/" }

// vaultResource is the audience of Key Vault tokens and the challenge's resource.
func (s *Server) vaultResource() string { return "https://vault.test:" + s.port }

// CAFile is the path of the PEM file holding the emulator CA.
func (s *Server) CAFile() string { return filepath.Join(s.dir, "ca.pem") }

// CloudEnvFile is the path of a go-autorest Environment JSON (AzureStackCloud) describing the
// emulator, usable as a SecretProviderClass's cloudEnvFileName.
func (s *Server) CloudEnvFile() string { return filepath.Join(s.dir, "cloud.json") }

// HTTPClient trusts the emulator CA and dials every *.test host to the listener. Give it as the
// Transport to both the credential and the Key Vault client.
func (s *Server) HTTPClient() *http.Client { return s.client }

// ManagedIdentityEndpoint returns values for IDENTITY_ENDPOINT and IDENTITY_HEADER (the App Service
// managed identity protocol, plain http on its own loopback listener).
func (s *Server) ManagedIdentityEndpoint() (endpoint, header string) {
	return "http://" + s.miLn.Addr().String() + "/msi/token", s.miHeader
}

// newHTTPClient builds the client whose dialer maps *.test names to the listener.
func (s *Server) newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: s.auth.pool, MinVersion: tls.VersionTLS12}
	var d net.Dialer
	target := s.ln.Addr().String()
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, _, err := net.SplitHostPort(addr); err == nil && isTestHost(host) {
			addr = target
		}
		return d.DialContext(ctx, network, addr)
	}
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: t}
}

// isTestHost reports whether host is in the reserved .test domain the emulator answers for.
func isTestHost(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "test" || strings.HasSuffix(host, ".test")
}

// route dispatches by Host: login.test → Entra ID, <vault>.vault.test → the vault data plane.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	host = strings.ToLower(host)
	switch {
	case host == "login.test":
		s.entraRoutes.ServeHTTP(w, r)
	case strings.HasSuffix(host, ".vault.test"):
		s.routes.ServeHTTP(w, r)
	default:
		writeKVError(w, http.StatusNotFound, "NotFound", "no emulated service at host "+host)
	}
}

// vaultName extracts <vault> from a "<vault>.vault.test[:port]" Host header.
func vaultName(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	return strings.TrimSuffix(strings.ToLower(host), ".vault.test")
}

// writeFiles writes ca.pem and cloud.json into the emulator dir.
func (s *Server) writeFiles() error {
	if err := os.WriteFile(s.CAFile(), s.auth.caPEM, 0o644); err != nil {
		return fmt.Errorf("write CA file: %w", err)
	}
	b, err := json.MarshalIndent(s.cloudEnvironment(), "", "  ")
	if err != nil {
		return fmt.Errorf("encode cloud.json: %w", err)
	}
	if err := os.WriteFile(s.CloudEnvFile(), b, 0o644); err != nil {
		return fmt.Errorf("write cloud.json: %w", err)
	}
	return nil
}

// cloudEnvironment is the go-autorest Environment the Azure provider reads from cloudEnvFileName.
func (s *Server) cloudEnvironment() map[string]any {
	mgmt := "https://management.test:" + s.port + "/"
	env := map[string]any{
		"name":                    "AzureStackCloud",
		"activeDirectoryEndpoint": s.AuthorityHost(),
		"keyVaultDNSSuffix":       s.VaultDNSSuffix(),
		"keyVaultEndpoint":        s.vaultResource() + "/",
		"resourceManagerEndpoint": mgmt,
		"tokenAudience":           mgmt,
		"resourceIdentifiers":     map[string]string{"keyVault": s.vaultResource()},
	}
	for _, k := range []string{"managementPortalURL", "publishSettingsURL", "serviceManagementEndpoint",
		"galleryEndpoint", "graphEndpoint", "serviceBusEndpoint", "batchManagementEndpoint",
		"storageEndpointSuffix", "sqlDatabaseDNSSuffix", "trafficManagerDNSSuffix",
		"serviceBusEndpointSuffix", "serviceManagementVMDNSSuffix", "resourceManagerVMDNSSuffix",
		"containerRegistryDNSSuffix", "cosmosDBDNSSuffix"} {
		env[k] = ""
	}
	return env
}

// randomHex returns n random bytes, hex encoded (Key Vault version ids are 32 hex digits).
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}
