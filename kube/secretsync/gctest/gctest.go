// Package gctest runs the Kubernetes garbage collector for tests: a real
// kube-controller-manager with only the garbagecollector controller,
// against a kubetest cluster. kube-apiserver alone never deletes an object
// whose owners are gone, so a test of owner-reference lifetimes without it
// would prove nothing.
//
// The binary is built by `make kube-controller-manager` (tools.mk) and
// found through SECRETFS_KUBE_CONTROLLER_MANAGER; without it Start fails
// the test rather than skipping it.
package gctest

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/secretfs/secretfs/kube/kubetest"
)

// EnvKubeControllerManager names the kube-controller-manager binary;
// tools.mk exports it.
const EnvKubeControllerManager = "SECRETFS_KUBE_CONTROLLER_MANAGER"

// readyTimeout is generous: CI shares two cores with compilers.
const readyTimeout = 2 * time.Minute

// Start runs a garbage collector against c until t ends.
func Start(t testing.TB, c *kubetest.Cluster) {
	t.Helper()
	stop, err := Run(c, t.TempDir())
	if err != nil {
		t.Fatalf("gctest: %v", err)
	}
	t.Cleanup(stop)
}

// Run starts a garbage collector against c, with its files in dir, and
// returns once it is healthy; stop kills it and waits. For TestMain, where
// there is no t.
func Run(c *kubetest.Cluster, dir string) (stop func(), err error) {
	bin := os.Getenv(EnvKubeControllerManager)
	if bin == "" {
		return nil, fmt.Errorf("%s must name the kube-controller-manager binary: run `make kube-controller-manager`", EnvKubeControllerManager)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logFile := filepath.Join(dir, "kube-controller-manager.log")
	cmd, err := start(bin, args(c.Kubeconfig(), dir, port), logFile)
	if err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop = func() { kill(cmd); <-exited }
	if err := waitHealthy(port, exited); err != nil {
		stop()
		log, _ := os.ReadFile(logFile)
		return nil, fmt.Errorf("kube-controller-manager: %w\n%s", err, tail(log))
	}
	return stop, nil
}

// args run only the garbage collector, with the admin kubeconfig's own
// credentials (no per-controller service accounts: no token controller
// runs), serving /healthz on a loopback port.
func args(kubeconfig, dir string, port int) []string {
	return []string{
		"--kubeconfig=" + kubeconfig,
		"--controllers=garbagecollector",
		"--use-service-account-credentials=false",
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(dir, "certs"),
		"--concurrent-gc-syncs=5",
	}
}

func start(bin string, args []string, logFile string) (*exec.Cmd, error) {
	out, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	out.Close() // the child holds its own descriptor
	return cmd, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitHealthy polls /healthz; the serving certificate is the process's own
// self-signed one, so it is not verified (loopback, test only).
func waitHealthy(port int, exited <-chan struct{}) error {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	url := "https://127.0.0.1:" + strconv.Itoa(port) + "/healthz"
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /healthz: %s", resp.Status)
		}
		select {
		case <-exited:
			return fmt.Errorf("exited before it was healthy: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("not healthy after %v: %w", readyTimeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func tail(b []byte) []byte {
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return b
}
