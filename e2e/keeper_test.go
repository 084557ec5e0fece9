package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/secretfs/secretfs/vault/emulator"
)

// TestKeeperKeepsMounts runs `secretfs keeper` beside `secretfs node
// --keeper-socket`, as the chart does with keeper.enabled, and kills them.
func TestKeeperKeepsMounts(t *testing.T) {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Fatal("the keeper mounts FUSE: run the tests on Linux as root (make test and CI do); they fail rather than skip")
	}
	kdir := t.TempDir() // keeper sockets and logs, kept to the end
	outer := t          // keepers started in subtests outlive them
	bin := buildSecretfs(t)
	k := startKeeper(t, t, bin, kdir, filepath.Join(kdir, "keeper.sock"))
	h := newHarness(t, ttl, "--keeper-socket", k.sock)
	h.kv.AddServicePrincipal(appClient, appSecret)
	h.kv.Grant(appClient, "kv-keep", emulator.Read)
	h.kv.SetSecret("kv-keep", "db-password", "keep-pw-1", "")
	h.kv.SetSecret("kv-keep", "api-token", "keep-token-1", "")
	creds := map[string]string{"clientid": appClient, "clientsecret": appSecret}
	h.createClass(t, "team-k", "kept", h.azureParams("kv-keep", objects(
		"objectName: db-password\nobjectType: secret",
		"objectName: api-token\nobjectType: secret",
	)))

	t.Run("node SIGKILLed and restarted while pods read: no errors", func(t *testing.T) {
		var reqs []*csipb.NodePublishVolumeRequest
		for i := range 8 {
			req := h.publishRequest(newPod("team-k", fmt.Sprintf("reader-%d", i)), "secrets", "kept", creds)
			h.mustPublish(t, req)
			reqs = append(reqs, req)
		}
		want := map[string]string{"db-password": "keep-pw-1", "api-token": "keep-token-1"}
		r := startReaders(reqs, want)
		for i := range 5 {
			time.Sleep(time.Duration(200+rand.IntN(400)) * time.Millisecond)
			start := time.Now()
			h.killNode(t)
			h.startNode(t)
			t.Logf("kill %d: the new node served CSI (its kept mounts resumed) after %v", i+1, time.Since(start).Round(time.Millisecond))
		}
		time.Sleep(300 * time.Millisecond)
		r.check(t)
		if !strings.Contains(h.logTail(), "resumed a kept mount") {
			t.Errorf("the node log does not say it resumed kept mounts:\n%s", h.logTail())
		}

		// The new process's cache refills and its refreshes reach the
		// kept mounts.
		h.kv.SetSecret("kv-keep", "db-password", "keep-pw-2", "")
		start := time.Now()
		for _, req := range reqs {
			eventually(t, ttl+5*time.Second, "rotated db-password after restarts", func() bool {
				return readFile(t, filepath.Join(req.TargetPath, "db-password")) == "keep-pw-2"
			})
		}
		t.Logf("rotation after the restarts reached every pod after %v (TTL %v)", time.Since(start).Round(time.Millisecond), ttl)

		h.unpublish(t, reqs[0])
		if _, err := os.Lstat(reqs[0].TargetPath); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("unpublish after restarts left %s (%v)", reqs[0].TargetPath, err)
		}
	})

	t.Run("upgrade: the next keeper takes over, the node restarts: no errors", func(t *testing.T) {
		var reqs []*csipb.NodePublishVolumeRequest
		for i := range 4 {
			req := h.publishRequest(newPod("team-k", fmt.Sprintf("upgrade-%d", i)), "secrets", "kept", creds)
			h.mustPublish(t, req)
			reqs = append(reqs, req)
		}
		h.kv.SetSecret("kv-keep", "db-password", "keep-pw-3", "")
		for _, req := range reqs {
			eventually(t, ttl+5*time.Second, "db-password current", func() bool {
				return readFile(t, filepath.Join(req.TargetPath, "db-password")) == "keep-pw-3"
			})
		}
		r := startReaders(reqs, map[string]string{"db-password": "keep-pw-3", "api-token": "keep-token-1"})
		for i := range 3 {
			// What a surge update does: the new pod's keeper takes over, its
			// node plugin starts, then the old pod stops.
			time.Sleep(time.Duration(200+rand.IntN(300)) * time.Millisecond)
			start := time.Now()
			old := k
			k = startKeeper(t, outer, bin, kdir, k.sock)
			eventually(t, 30*time.Second, "the new keeper took over", func() bool {
				b, _ := os.ReadFile(k.logFile)
				return strings.Contains(string(b), "took over from the running keeper")
			})
			took := time.Since(start)
			time.Sleep(100 * time.Millisecond) // an old keeper that exits would do so now
			if !old.running() {
				t.Fatalf("upgrade %d: the old keeper exited after the handover (kubelet would restart it)", i+1)
			}
			h.stopNode(t)
			h.startNode(t)
			old.stop()
			if old.cmd.ProcessState == nil || !old.cmd.ProcessState.Success() {
				t.Errorf("upgrade %d: the old keeper did not exit cleanly on SIGTERM: %v", i+1, old.cmd.ProcessState)
			}
			t.Logf("upgrade %d: new keeper serving after %v; node restarted after %v; old keeper: %s", i+1,
				took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), old.logLine("handed over"))
		}
		time.Sleep(300 * time.Millisecond)
		r.check(t)
	})

	t.Run("keeper killed: mounts reported dead, cleaned up, publishing works again", func(t *testing.T) {
		a := h.publishRequest(newPod("team-k", "dead-a"), "secrets", "kept", creds)
		b := h.publishRequest(newPod("team-k", "dead-b"), "secrets", "kept", creds)
		h.mustPublish(t, a)
		h.mustPublish(t, b)
		readFile(t, filepath.Join(b.TargetPath, "api-token"))
		k.kill()
		var st syscall.Statfs_t
		if err := syscall.Statfs(b.TargetPath, &st); !errors.Is(err, syscall.ENOTCONN) {
			t.Fatalf("statfs of a mount whose keeper died: %v, want ENOTCONN", err)
		}
		k = startKeeper(t, outer, bin, kdir, k.sock)

		// The running node cleans a dead mount up on unpublish…
		h.unpublish(t, a)
		if _, err := os.Lstat(a.TargetPath); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("unpublish of a dead mount left %s (%v)", a.TargetPath, err)
		}
		// …and the next node reports the dead mounts it finds.
		h.killNode(t)
		h.startNode(t)
		if got := h.metric(t, "secretfs_dead_mounts_total", ""); got != 1 {
			t.Errorf("secretfs_dead_mounts_total = %v, want 1 (pod dead-b)", got)
		}
		if log := h.logTail(); !strings.Contains(log, "found a dead FUSE mount") || !strings.Contains(log, "team-k/dead-b") {
			t.Errorf("the node log does not report the dead mount of team-k/dead-b:\n%s", log)
		}
		evs, err := h.cluster.Client.CoreV1().Events("team-k").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var lost []string
		for _, ev := range evs.Items {
			if ev.Reason == "SecretsVolumeLost" && ev.Type == "Warning" {
				lost = append(lost, ev.InvolvedObject.Name)
			}
		}
		if diff := cmp.Diff([]string{"dead-b"}, lost); diff != "" {
			t.Errorf("SecretsVolumeLost events on pods (-want +got):\n%s", diff)
		}
		h.unpublish(t, b)
		if _, err := os.Lstat(b.TargetPath); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("unpublish after restart left %s (%v)", b.TargetPath, err)
		}

		c := h.publishRequest(newPod("team-k", "after"), "secrets", "kept", creds)
		h.mustPublish(t, c)
		if got := readFile(t, filepath.Join(c.TargetPath, "api-token")); got != "keep-token-1" {
			t.Errorf("api-token on a new keeper = %q", got)
		}
	})

	t.Run("logs hold no secret", func(t *testing.T) {
		logs, _ := filepath.Glob(filepath.Join(kdir, "keeper-*.log"))
		if len(logs) < 2 {
			t.Errorf("keeper logs %v, want one per keeper started", logs)
		}
		for _, f := range append(logs, h.logFile) {
			log, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{appSecret, "keep-pw-1", "keep-pw-2", "keep-token-1"} {
				if strings.Contains(string(log), secret) {
					t.Errorf("%s contains the secret %q", filepath.Base(f), secret)
				}
			}
		}
	})
}

// keeperProc is a `secretfs keeper` process.
type keeperProc struct {
	cmd     *exec.Cmd
	sock    string
	logFile string
}

// startKeeper starts `secretfs keeper` on sock, logging into dir, and
// waits until it listens. It is stopped (unmounting what it holds) when
// owner ends.
func startKeeper(t, owner *testing.T, bin, dir, sock string) *keeperProc {
	t.Helper()
	k := &keeperProc{sock: sock, logFile: filepath.Join(dir, fmt.Sprintf("keeper-%d.log", time.Now().UnixNano()))}
	log, err := os.Create(k.logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	k.cmd = exec.Command(bin, "keeper", "--socket", k.sock, "--handover-wait", "1ms", "--hung-after", "10s")
	k.cmd.Stdout, k.cmd.Stderr = log, log
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	owner.Cleanup(k.stop)
	eventually(t, 30*time.Second, "keeper listening", func() bool {
		c, err := net.Dial("unixpacket", k.sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return k
}

// running reports whether the keeper process has not exited.
func (k *keeperProc) running() bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", k.cmd.Process.Pid))
	if err != nil {
		return false
	}
	// pid (comm) state …: a zombie (Z) has exited.
	_, after, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(after, "Z")
}

// logLine returns the first line of the keeper's log that contains s.
func (k *keeperProc) logLine(s string) string {
	b, _ := os.ReadFile(k.logFile)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// kill SIGKILLs the keeper: every mount it holds dies.
func (k *keeperProc) kill() {
	k.cmd.Process.Kill()
	k.cmd.Wait()
}

// stop asks the keeper to exit; with no successor it unmounts what it
// holds.
func (k *keeperProc) stop() {
	if k.cmd.ProcessState != nil {
		return
	}
	k.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { k.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		k.kill()
	}
}

// killNode SIGKILLs `secretfs node`, as an OOM kill or a crash would.
func (h *harness) killNode(t *testing.T) {
	t.Helper()
	h.conn.Close()
	h.node.Process.Kill()
	h.node.Wait()
	h.node = nil
}

// readers are pods reading their volumes in a loop: open, read, close,
// and compare, each file in turn.
type readers struct {
	stop   chan struct{}
	wg     sync.WaitGroup
	ops    atomic.Int64
	errs   atomic.Int64
	first  atomic.Value   // string: the first error
	stall  atomic.Int64   // the longest operation, ns
	active []atomic.Int64 // per reader: the start of the current op (ns), 0 if idle
}

// hungAfter is how long one open+read+close may take before it counts as
// hung: far above any stall a restart causes.
const hungAfter = 20 * time.Second

func startReaders(reqs []*csipb.NodePublishVolumeRequest, want map[string]string) *readers {
	r := &readers{stop: make(chan struct{}), active: make([]atomic.Int64, 2*len(reqs))}
	for i := range r.active {
		dir := reqs[i%len(reqs)].TargetPath
		r.wg.Add(1)
		go func() { defer r.wg.Done(); r.loop(i, dir, want) }()
	}
	return r
}

func (r *readers) loop(i int, dir string, want map[string]string) {
	for {
		for name, content := range want {
			select {
			case <-r.stop:
				return
			default:
			}
			start := time.Now()
			r.active[i].Store(start.UnixNano())
			b, err := os.ReadFile(filepath.Join(dir, name))
			r.active[i].Store(0)
			took := int64(time.Since(start))
			for cur := r.stall.Load(); took > cur && !r.stall.CompareAndSwap(cur, took); cur = r.stall.Load() {
			}
			r.ops.Add(1)
			if err == nil && string(b) != content {
				err = fmt.Errorf("read %d bytes, not the %d of the current version", len(b), len(content))
			}
			if err != nil {
				r.errs.Add(1)
				r.first.CompareAndSwap(nil, fmt.Sprintf("%s: %v", name, err))
			}
		}
	}
}

// check stops the readers (waiting at most hungAfter for each) and fails on
// any error or hung operation; it logs the longest stall.
func (r *readers) check(t *testing.T) {
	t.Helper()
	close(r.stop)
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(hungAfter):
		hung := 0
		for i := range r.active {
			if r.active[i].Load() != 0 {
				hung++
			}
		}
		t.Fatalf("%d readers hung in an operation for more than %v", hung, hungAfter)
	}
	if n := r.errs.Load(); n != 0 {
		t.Errorf("%d read errors of %d operations; first: %v", n, r.ops.Load(), r.first.Load())
	}
	if r.ops.Load() == 0 {
		t.Error("readers did nothing")
	}
	t.Logf("%d reads, %d errors, longest stall %v", r.ops.Load(), r.errs.Load(), time.Duration(r.stall.Load()).Round(time.Millisecond))
}
