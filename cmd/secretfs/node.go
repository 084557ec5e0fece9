package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"time"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/secretfs/secretfs/cache"
	"github.com/secretfs/secretfs/csi"
	"github.com/secretfs/secretfs/kube"
	"github.com/secretfs/secretfs/kube/secretsync"
	"github.com/secretfs/secretfs/vault"
	"github.com/secretfs/secretfs/volume"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// nodeConfig is `secretfs node`'s flags.
type nodeConfig struct {
	Endpoint    string
	NodeID      string
	DriverName  string
	Kubeconfig  string
	TTL         time.Duration
	CacheBytes  int64
	Backend     string
	MetricsAddr string
	HealthAddr  string
	LogFormat   string
	StateFile   string
	CAFile      string
	Resolve     resolveFlag
	SyncSecrets bool
	// CloudEnvDir is the only directory cloudEnvFileName may name a file
	// in; "" refuses custom clouds.
	CloudEnvDir string
	// KeeperSocket, if set, mounts FUSE volumes through `secretfs keeper`
	// so they survive restarts of this process.
	KeeperSocket string
}

func runNode(ctx context.Context, args []string, out io.Writer) error {
	cfg := nodeConfig{Resolve: resolveFlag{}}
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.StringVar(&cfg.Endpoint, "endpoint", "unix:///csi/csi.sock", "CSI endpoint kubelet connects to")
	fs.StringVar(&cfg.NodeID, "node-id", "", "this node's name, reported by NodeGetInfo (required)")
	fs.StringVar(&cfg.DriverName, "driver-name", csi.DefaultDriverName, "CSI driver name, as in the CSIDriver object")
	fs.StringVar(&cfg.Kubeconfig, "kubeconfig", "", "kubeconfig file; empty means in-cluster configuration")
	fs.DurationVar(&cfg.TTL, "ttl", 2*time.Minute, "cache TTL: a new Key Vault version reaches pods within it")
	fs.Int64Var(&cfg.CacheBytes, "cache-bytes", 64<<20, "bound on the bytes of object content the node caches")
	fs.StringVar(&cfg.Backend, "backend", "auto", "auto (FUSE where /dev/fuse works, else files), fuse or files")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", ":8095", "Prometheus metrics address; empty disables")
	fs.StringVar(&cfg.HealthAddr, "health-addr", ":9808", "/healthz address; empty disables")
	fs.StringVar(&cfg.LogFormat, "log-format", "text", "text or json")
	fs.StringVar(&cfg.StateFile, "state-file", "/var/run/secretfs/state.json", "where published volumes are recorded (no secrets)")
	fs.StringVar(&cfg.CAFile, "ca-file", "", "extra trusted CA certificates (PEM) for Key Vault and Entra ID")
	fs.StringVar(&cfg.CloudEnvDir, "cloud-env-dir", "", cloudEnvDirUsage)
	fs.BoolVar(&cfg.SyncSecrets, "sync-secrets", false, "keep the Kubernetes Secrets of SecretProviderClass secretObjects in sync (needs RBAC for secrets)")
	fs.StringVar(&cfg.KeeperSocket, "keeper-socket", "", "mount FUSE volumes through the secretfs keeper at this socket, so they survive restarts (empty: mount directly)")
	fs.Var(cfg.Resolve, "resolve", "SUFFIX=HOST:PORT: dial hosts ending in SUFFIX at HOST:PORT (repeatable; for the emulator)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.NodeID == "" {
		return errors.New("--node-id is required: pass the Kubernetes node name (spec.nodeName via the downward API)")
	}
	if err := checkCloudEnvDir(cfg.CloudEnvDir); err != nil {
		return err
	}
	logger, err := newLogger(cfg.LogFormat, out)
	if err != nil {
		return err
	}
	return serveNode(ctx, cfg, logger)
}

func newLogger(format string, out io.Writer) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(out, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(out, nil)), nil
	}
	return nil, fmt.Errorf("--log-format %q is not text or json", format)
}

// serveNode wires the node plugin together and serves until ctx ends.
func serveNode(ctx context.Context, cfg nodeConfig, logger *slog.Logger) error {
	slog.SetDefault(logger)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	restCfg, err := restConfig(cfg.Kubeconfig)
	if err != nil {
		return err
	}
	classes, err := kube.NewClasses(restCfg)
	if err != nil {
		return err
	}
	classes.Start(ctx)
	defer classes.Close()

	c := cache.New(volume.CacheOptions(cfg.TTL, cfg.CacheBytes))
	defer c.Close()
	manager, err := newManager(cfg, c, reg)
	if err != nil {
		return err
	}
	defer manager.Close()
	if cfg.SyncSecrets {
		writer, err := secretsync.New(restCfg, classes, secretsync.Options{NodeName: cfg.NodeID, Registerer: reg, Logger: logger})
		if err != nil {
			return err
		}
		defer writer.Close()
		manager.SetObserver(writer)
	}

	// Mounts the keeper held across our restart are served again before
	// kubelet can reach us; their readers only stalled. The budget bounds
	// the wait for CSI and /healthz; the rest wait for kubelet's republish.
	rctx, cancel := context.WithTimeout(ctx, resumeBudget)
	kept, err := manager.Resume(rctx, logger)
	cancel()
	if err != nil {
		logger.Warn("some kept mounts were not resumed: kubelet's republish retries them", "err", err)
	}
	state, err := csi.OpenState(cfg.StateFile)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("kubernetes client for events: %w", err)
	}
	events := kube.NewEvents(client, cfg.NodeID, logger)
	forgetDeadMounts(state, kept, deadMounts(reg), events, logger)
	srv := csi.NewNodeServer(csi.Config{
		DriverName: cfg.DriverName, Version: version, NodeID: cfg.NodeID, Backend: manager.Backend(),
		State: state, Logger: logger, Registerer: reg, CloudEnvDir: cfg.CloudEnvDir,
	}, classes, manager)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, cfg.Endpoint) })
	serveHTTP(gctx, g, cfg.MetricsAddr, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	serveHTTP(gctx, g, cfg.HealthAddr, healthz(srv))
	logger.Info("secretfs node serving", "endpoint", cfg.Endpoint, "node", cfg.NodeID, "driver", cfg.DriverName,
		"backend", manager.Backend(), "ttl", cfg.TTL)
	return g.Wait()
}

// newManager builds the credentials, Key Vault transport and backend around
// the node cache c.
func newManager(cfg nodeConfig, c *cache.Cache, reg prometheus.Registerer) (*volume.Manager, error) {
	tr, err := vault.NewTransport(cfg.CAFile, cfg.Resolve)
	if err != nil {
		return nil, err
	}
	observed := volume.ObserveRequests(tr, reg)
	node := volume.NewNode(c, vault.NewCredentials(vault.CredentialOptions{Transport: observed}),
		vault.ClientOptions{Transport: observed})
	reg.MustRegister(node.Collector())
	backend, err := volume.NewBackend(cfg.Backend, volume.FuseOptions{})
	if err != nil {
		node.Close()
		return nil, err
	}
	if cfg.KeeperSocket != "" && backend.Name() == "fuse" {
		backend = volume.NewKeeperBackend(cfg.KeeperSocket, volume.FuseOptions{})
	}
	return volume.NewManager(node, backend), nil
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		return rest.InClusterConfig()
	}
	return clientcmd.BuildConfigFromFlags("", kubeconfig)
}

// resumeBudget bounds the resumption of the kept mounts at start.
const resumeBudget = time.Minute

const (
	// probeWait bounds the search for dead mounts at start: a statfs of a
	// FUSE mount whose server is away (a kept mount, when the keeper could
	// not list it) waits for that server, for ever if none comes.
	probeWait = 10 * time.Second
	// probeLimit bounds the statfs calls in flight, and so the threads
	// that hang in them.
	probeLimit = 16
)

// forgetDeadMounts drops FUSE mounts a previous process left behind whose
// connection is gone (their server died without a keeper, or the keeper
// itself died): they answer ENOTCONN until unmounted. Each is counted and
// logged: its pod must be restarted, since kubelet republishes a volume it
// believes mounted but never remounts it. Targets the keeper holds are
// alive and not probed; the others are probed concurrently within
// probeWait, and one whose probe does not return (a mount waiting for its
// server) is left alone for kubelet's republish: start never waits on it.
func forgetDeadMounts(state *csi.State, kept []string, dead prometheus.Counter, events *kube.Events, logger *slog.Logger) {
	entries := map[string]csi.Entry{}
	var targets []string
	for _, e := range state.Entries() {
		if e.Backend == "fuse" && !slices.Contains(kept, e.TargetPath) {
			entries[e.TargetPath] = e
			targets = append(targets, e.TargetPath)
		}
	}
	pctx, cancel := context.WithTimeout(context.Background(), probeWait)
	states := volume.ProbeMounts(pctx, targets, probeLimit)
	cancel()
	// Events are best effort: all of them together may delay serving CSI
	// by this much at most, API server or not.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, target := range targets {
		e := entries[target]
		switch states[target] {
		case volume.MountUnknown:
			logger.Warn("could not tell whether a FUSE mount of the previous run is alive (its server may be away): left for kubelet's republish",
				"target", target, "pod", e.Pod.Namespace+"/"+e.Pod.Name, "waited", probeWait)
		case volume.MountDead:
			forgetDeadMount(ctx, e, dead, events, logger)
		}
	}
}

// forgetDeadMount counts, reports and unmounts the dead mount of e.
func forgetDeadMount(ctx context.Context, e csi.Entry, dead prometheus.Counter, events *kube.Events, logger *slog.Logger) {
	dead.Inc()
	logger.Error("found a dead FUSE mount (its server or keeper died): restart the pod to mount it again",
		"target", e.TargetPath, "pod", e.Pod.Namespace+"/"+e.Pod.Name)
	pod := kube.PodRef{Namespace: e.Pod.Namespace, Name: e.Pod.Name, UID: e.Pod.UID}
	events.Record(ctx, pod, corev1.EventTypeWarning, "SecretsVolumeLost", fmt.Sprintf("the secretfs volume %s was lost when its FUSE server or keeper died; "+
		"restart the pod to mount it again", e.VolumeID))
	if err := volume.UnmountDead(e.TargetPath); err != nil {
		logger.Warn("clearing a mount of the previous run", "target", e.TargetPath, "pod", e.Pod.Namespace+"/"+e.Pod.Name, "err", err)
	}
}

// deadMounts is the counter of dead FUSE mounts found at start.
func deadMounts(reg prometheus.Registerer) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "secretfs_dead_mounts_total",
		Help: "FUSE mounts found dead at start (their server died without a keeper, or the keeper died); their pods must be restarted.",
	})
	reg.MustRegister(c)
	return c
}

// serveHTTP serves h at addr (if set) until ctx ends, as part of g.
func serveHTTP(ctx context.Context, g *errgroup.Group, addr string, h http.Handler) {
	if addr == "" {
		return
	}
	s := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	g.Go(func() error {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return s.Shutdown(shutdown)
	})
	g.Go(func() error {
		if err := s.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving %s: %w", addr, err)
		}
		return nil
	})
}

// healthz answers 200 while the CSI service is ready, for the livenessprobe
// sidecar's port and kubelet's probe.
func healthz(srv *csi.NodeServer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := srv.Probe(r.Context(), &csipb.ProbeRequest{})
		if err != nil || !resp.GetReady().GetValue() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
}
