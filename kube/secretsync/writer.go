package secretsync

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"

	"github.com/secretfs/secretfs/csi"
	"github.com/secretfs/secretfs/kube"
	"github.com/secretfs/secretfs/volume"
)

// Options tunes a Writer; the zero value works, except that NodeName should
// be set (it labels the status objects).
type Options struct {
	// NodeName labels each SecretProviderClassPodStatus, as upstream does.
	NodeName string
	// Registerer receives the metrics; nil registers none.
	Registerer prometheus.Registerer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Workers is how many targets are reconciled at once; default 2.
	Workers int
	// RetryBase and RetryMax bound the exponential backoff of a target whose
	// reconcile failed; defaults 200ms and 10s, so a Secret catches up within
	// about RetryMax of the API server coming back.
	RetryBase, RetryMax time.Duration
	// Timeout bounds one reconcile; default 30s.
	Timeout time.Duration
	// Resync reconciles every mounted volume this often even without a
	// change, so a Secret someone deleted or edited comes back; default 2m
	// (upstream's rotation poll interval), negative disables.
	Resync time.Duration
}

// maxCleanupRetries bounds the retries of an unmount's cleanup: with the
// default backoff, about ten minutes.
const maxCleanupRetries = 70

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 200 * time.Millisecond
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 10 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Resync == 0 {
		o.Resync = 2 * time.Minute
	}
	return o
}

// source is what the writer reads of a mounted volume; *volume.Volume.
type source interface {
	Read(ctx context.Context, path string) ([]byte, error)
	Versions(ctx context.Context) map[string]string
}

var (
	_ volume.Observer = (*Writer)(nil)
	_ source          = (*volume.Volume)(nil)
)

// Writer keeps synced Secrets and SecretProviderClassPodStatuses in step with
// the node's mounted volumes. Build it with New, hand it to
// volume.Manager.SetObserver, and Close it when the node stops.
type Writer struct {
	client   kubernetes.Interface
	statuses rest.Interface
	classes  csi.ClassGetter
	opts     Options
	log      *slog.Logger
	events   *kube.Events
	metrics  *metrics
	queue    workqueue.TypedRateLimitingInterface[string]
	cancel   context.CancelFunc
	wg       sync.WaitGroup // the workers

	mu     sync.Mutex
	mounts map[string]*mount // by target path; guarded by mu
}

// New returns a Writer talking to the API server at cfg, reading classes
// through classes, with its workers running until Close.
func New(cfg *rest.Config, classes csi.ClassGetter, o Options) (*Writer, error) {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the Kubernetes client for secret sync: %w", err)
	}
	statuses, err := kube.NewRESTClient(cfg)
	if err != nil {
		return nil, err
	}
	o = o.withDefaults()
	w := &Writer{
		client: client, statuses: statuses, classes: classes, opts: o, log: o.Logger,
		events:  kube.NewEvents(client, o.NodeName, o.Logger),
		metrics: newMetrics(o.Registerer),
		queue: workqueue.NewTypedRateLimitingQueue[string](
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](o.RetryBase, o.RetryMax)),
		mounts: map[string]*mount{},
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	for range o.Workers {
		w.wg.Add(1)
		go w.work(ctx)
	}
	if o.Resync > 0 {
		w.wg.Add(1)
		go w.resync(ctx, o.Resync)
	}
	return w, nil
}

// resync queues every mounted volume each interval until ctx ends.
func (w *Writer) resync(ctx context.Context, interval time.Duration) {
	defer w.wg.Done()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			for _, target := range w.mountedTargets() {
				w.queue.Add(target)
			}
		}
	}
}

// Close stops the workers, abandoning queued work: Secrets stay as they
// are, and the next process reconciles them when kubelet republishes.
func (w *Writer) Close() error {
	w.cancel()
	w.queue.ShutDown()
	w.wg.Wait()
	return nil
}

// Mounted implements volume.Observer: it records the mount (never its
// credentials) and queues it.
func (w *Writer) Mounted(r csi.MountRequest, v *volume.Volume) {
	m := &mount{target: r.TargetPath, pod: r.Pod, class: r.Class, vol: v, secrets: map[string]bool{}}
	w.mu.Lock()
	if prev := w.mounts[r.TargetPath]; prev != nil {
		maps.Copy(m.secrets, prev.secrets) // an unmount not yet cleaned up
	}
	w.mounts[r.TargetPath] = m
	w.mu.Unlock()
	w.queue.Add(r.TargetPath)
}

// Changed implements volume.Observer: the volume at target shows a new
// version of a file, so its Secrets and status need a look.
func (w *Writer) Changed(target string, _ *volume.Volume) {
	w.mu.Lock()
	m := w.mounts[target]
	if m != nil && m.vol != nil {
		m.rotated = true
	}
	w.mu.Unlock()
	if m != nil {
		w.queue.Add(target)
	}
}

// Unmounted implements volume.Observer: the pod no longer owns the Secrets
// its volume synced, and its status object goes.
func (w *Writer) Unmounted(target string) {
	w.mu.Lock()
	m := w.mounts[target]
	if m != nil {
		m.vol, m.rotated = nil, false
	}
	w.mu.Unlock()
	if m != nil {
		w.queue.Add(target)
	}
}

func (w *Writer) work(ctx context.Context) {
	defer w.wg.Done()
	for {
		target, shutdown := w.queue.Get()
		if shutdown {
			return
		}
		w.process(ctx, target)
		w.queue.Done(target)
	}
}

// process reconciles target once; a transient failure requeues it with
// backoff, a permanent one waits for the next mount, rotation or resync.
func (w *Writer) process(stopping context.Context, target string) {
	snap, ok := w.snapshot(target)
	if !ok {
		w.queue.Forget(target)
		return
	}
	ctx, cancel := context.WithTimeout(stopping, w.opts.Timeout)
	defer cancel()
	var err error
	if snap.vol == nil {
		err = w.cleanup(ctx, snap)
	} else {
		err = w.reconcile(ctx, snap)
	}
	switch {
	case err == nil:
		w.queue.Forget(target)
		w.finish(snap)
	case stopping.Err() != nil:
		// Close: the work is abandoned, not failed.
	case every(err, isPermanent):
		w.failed(snap, err)
		w.queue.Forget(target)
	case snap.vol == nil && w.queue.NumRequeues(target) >= maxCleanupRetries:
		// Give up undoing an unmount (RBAC revoked, namespace stuck): the
		// garbage collector deletes the Secret once the pod is gone.
		w.failed(snap, err)
		w.queue.Forget(target)
		w.forget(snap)
	default:
		w.failed(snap, err)
		w.queue.AddRateLimited(target)
	}
}
