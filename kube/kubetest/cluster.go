package kubetest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Environment variables naming the binaries; tools.mk exports them.
const (
	EnvKubeAPIServer = "SECRETFS_KUBE_APISERVER"
	EnvEtcd          = "SECRETFS_ETCD"
)

// ErrNoBinaries is returned (and reported by Start) when the binaries are not
// configured.
var ErrNoBinaries = errors.New(EnvKubeAPIServer + " and " + EnvEtcd +
	" must name the kube-apiserver and etcd binaries: run `make tools` (builds them once per machine) or `make test`")

// startTimeout bounds how long a process may take to become ready; generous
// because CI shares two cores with compilers.
const startTimeout = 2 * time.Minute

// Cluster is a running etcd and kube-apiserver on loopback ports.
type Cluster struct {
	// Config reaches the API server as an admin (group system:masters).
	Config *rest.Config
	// Client and Dynamic are built from Config.
	Client  kubernetes.Interface
	Dynamic dynamic.Interface

	quiet      dynamic.Interface // drops API warnings: ApplyCRDs lists deprecated versions
	dir        string
	bins       binaries
	pki        *pki
	etcdPorts  [2]int // client, peer
	apiPort    int
	kubeconfig string

	mu        sync.Mutex // guards etcd and apiserver
	etcd      *process
	apiserver *process
}

type binaries struct{ apiserver, etcd string }

// Start starts a cluster for t with its data in t.TempDir and stops it when
// t ends. It fails t if the binaries are not configured or do not start.
func Start(t testing.TB) *Cluster {
	t.Helper()
	c, err := start(t.TempDir())
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	t.Cleanup(c.Stop)
	return c
}

// Main starts one cluster for a whole test binary, hands it to setup (which
// usually stores it in a package variable), runs the tests and stops the
// cluster. Call it from TestMain; it does not return.
func Main(m *testing.M, setup func(*Cluster)) {
	os.Exit(runMain(m, setup))
}

func runMain(m *testing.M, setup func(*Cluster)) int {
	dir, err := os.MkdirTemp("", "kubetest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubetest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	c, err := start(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubetest:", err)
		return 1
	}
	defer c.Stop()
	setup(c)
	return m.Run()
}

func lookupBinaries() (binaries, error) {
	b := binaries{apiserver: os.Getenv(EnvKubeAPIServer), etcd: os.Getenv(EnvEtcd)}
	if b.apiserver == "" || b.etcd == "" {
		return b, ErrNoBinaries
	}
	return b, nil
}

func start(dir string) (*Cluster, error) {
	bins, err := lookupBinaries()
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, bins: bins}
	if c.pki, err = newPKI(dir); err != nil {
		return nil, err
	}
	if err := c.startOnFreePorts(); err != nil {
		return nil, err
	}
	if err := c.connect(); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// startOnFreePorts starts etcd and the API server on ports that were free a
// moment ago, and tries new ones if another process took one in between.
func (c *Cluster) startOnFreePorts() error {
	var err error
	for range 3 {
		var ports []int
		if ports, err = freePorts(3); err != nil {
			return err
		}
		c.etcdPorts, c.apiPort = [2]int{ports[0], ports[1]}, ports[2]
		if err = c.startProcesses(); err == nil {
			return nil
		}
		c.Stop()
		if !strings.Contains(err.Error(), "address already in use") {
			return err
		}
		// etcd's data records its peer URL: start the next try afresh.
		if rmErr := os.RemoveAll(filepath.Join(c.dir, "etcd")); rmErr != nil {
			return errors.Join(err, rmErr)
		}
	}
	return err
}

// freePorts finds n distinct loopback ports that are free now.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// connect builds the admin clients and the kubeconfig file.
func (c *Cluster) connect() error {
	c.Config = &rest.Config{
		Host:            "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(c.apiPort)),
		BearerToken:     c.pki.token,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.pki.caPEM},
		QPS:             1000,
		Burst:           2000,
	}
	var err error
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return fmt.Errorf("building client: %w", err)
	}
	if c.Dynamic, err = dynamic.NewForConfig(c.Config); err != nil {
		return fmt.Errorf("building dynamic client: %w", err)
	}
	quiet := rest.CopyConfig(c.Config)
	quiet.WarningHandler = rest.NoWarnings{}
	if c.quiet, err = dynamic.NewForConfig(quiet); err != nil {
		return fmt.Errorf("building dynamic client: %w", err)
	}
	c.kubeconfig = filepath.Join(c.dir, "kubeconfig")
	return clientcmd.WriteToFile(c.kubeconfigAPI(), c.kubeconfig)
}

func (c *Cluster) kubeconfigAPI() clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kubetest"] = &clientcmdapi.Cluster{Server: c.Config.Host, CertificateAuthorityData: c.pki.caPEM}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: c.pki.token}
	cfg.Contexts["kubetest"] = &clientcmdapi.Context{Cluster: "kubetest", AuthInfo: "admin"}
	cfg.CurrentContext = "kubetest"
	return *cfg
}

// Kubeconfig returns the path of a kubeconfig file with admin access, for
// subprocesses such as `secretfs node --kubeconfig`.
func (c *Cluster) Kubeconfig() string { return c.kubeconfig }

// Stop stops the API server and etcd. The data stays, so Restart can bring
// the cluster back with every object; Stop is idempotent and is what Start
// registers as cleanup.
func (c *Cluster) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.apiserver.stop(10 * time.Second)
	c.etcd.stop(10 * time.Second)
}

// StopAPIServer stops only the API server, for tests of a control plane
// that is briefly unavailable; Restart brings it back.
func (c *Cluster) StopAPIServer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.apiserver.stop(10 * time.Second)
}

// Restart stops the API server if it runs and starts it again on the same
// port, with the same certificates, token and data, starting etcd again
// first if Stop stopped it. It returns once /readyz answers ok. Clients built
// from Config keep working after it.
func (c *Cluster) Restart(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	c.apiserver.stop(10 * time.Second)
	c.mu.Unlock()
	if err := c.startProcesses(); err != nil {
		t.Fatalf("kubetest: restart: %v", err)
	}
}

// startProcesses starts whichever of etcd and the API server is not running.
func (c *Cluster) startProcesses() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.etcd == nil || c.etcd.exited() {
		if err := c.startEtcd(); err != nil {
			return err
		}
	}
	if c.apiserver == nil || c.apiserver.exited() {
		return c.startAPIServer()
	}
	return nil
}

func (c *Cluster) startEtcd() error {
	client := "http://127.0.0.1:" + strconv.Itoa(c.etcdPorts[0])
	peer := "http://127.0.0.1:" + strconv.Itoa(c.etcdPorts[1])
	args := []string{
		"--name=kubetest",
		"--data-dir=" + filepath.Join(c.dir, "etcd"),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=kubetest=" + peer,
		"--unsafe-no-fsync", // test data; fsync would dominate on shared disks
		"--log-level=warn",
	}
	p, err := startProcess("etcd", c.bins.etcd, args, filepath.Join(c.dir, "etcd.log"))
	if err != nil {
		return err
	}
	c.etcd = p
	return waitReady(p, client+"/health", nil, "")
}

func (c *Cluster) startAPIServer() error {
	p, err := startProcess("kube-apiserver", c.bins.apiserver, c.apiServerArgs(), filepath.Join(c.dir, "kube-apiserver.log"))
	if err != nil {
		return err
	}
	c.apiserver = p
	url := "https://127.0.0.1:" + strconv.Itoa(c.apiPort) + "/readyz"
	return waitReady(p, url, c.pki.caPEM, c.pki.token)
}

func (c *Cluster) apiServerArgs() []string {
	return []string{
		"--etcd-servers=http://127.0.0.1:" + strconv.Itoa(c.etcdPorts[0]),
		"--secure-port=" + strconv.Itoa(c.apiPort),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--cert-dir=" + filepath.Join(c.dir, "certs"),
		"--tls-cert-file=" + c.pki.certFile,
		"--tls-private-key-file=" + c.pki.keyFile,
		"--service-account-key-file=" + c.pki.saKeyFile,
		"--service-account-signing-key-file=" + c.pki.saKeyFile,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--token-auth-file=" + c.pki.tokenFile,
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--allow-privileged=true",
		// No controller-manager creates the "default" ServiceAccount, so the
		// admission plugin would reject every pod; envtest does the same.
		"--disable-admission-plugins=ServiceAccount",
	}
}

// waitReady polls url until it answers 200, the process exits, or
// startTimeout passes.
func waitReady(p *process, url string, caPEM []byte, token string) error {
	client := &http.Client{Timeout: 5 * time.Second}
	if caPEM != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
		defer client.CloseIdleConnections()
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	var last error
	for {
		if last = probe(ctx, client, url, token); last == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready: %w\n%s", p.name, last, p.tail())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %v: %w\n%s", p.name, startTimeout, last, p.tail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func probe(ctx context.Context, client *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
