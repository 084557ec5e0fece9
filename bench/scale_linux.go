//go:build linux

package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// upstreamNodeLimitMiB is the upstream driver's memory limit per node
// (Secrets Store CSI Driver chart: 200 Mi for the secrets-store container).
const upstreamNodeLimitMiB = 200

// measureScale is measure 6: RSS of a node process and publish time as
// mounted volumes grow.
func measureScale(ctx context.Context, r *runner) (Measure, error) {
	maxN := slices.Max(r.plan.volumesN)
	m := Measure{Method: fmt.Sprintf("A child process runs the secretfs CSI node service (cache, FUSE backend, gRPC on a "+
		"unix socket; the SecretProviderClass from memory instead of an informer) with the Key Vault transport `secretfs node` "+
		"uses. This process publishes volumes of M = %d secrets, one identity, over gRPC up to N = %d, and reads the child's "+
		"VmRSS from /proc after each N. Bytes per volume = (RSS(N) − RSS(1)) / (N − 1). Baseline: the upstream driver's "+
		"200 MiB per-node memory limit (not run here). Target (design.md): ≤ 100 KiB per mounted volume.", objectsPerPod, maxN),
		Plot: "rss.svg"}
	ch, err := r.startVolumesChild(ctx)
	if err != nil {
		return m, err
	}
	defer ch.close()
	pc := r.env.identity(0)
	rss := map[int]float64{}
	var pubs []float64
	var targets []string
	rssSeries := Series{Name: "secretfs node RSS"}
	for i := 1; i <= maxN; i++ {
		target := filepath.Join(r.dir, "scale", fmt.Sprintf("pod%d", i), "mount")
		t0 := time.Now()
		if _, err := ch.client.NodePublishVolume(ctx, publishRequest(target, "bench", "spc", i, pc)); err != nil {
			return m, fmt.Errorf("publish volume %d: %w", i, err)
		}
		pubs = append(pubs, float64(time.Since(t0))/float64(time.Millisecond))
		targets = append(targets, target)
		if slices.Contains(r.plan.volumesN, i) {
			kib, err := rssKiB(ch.cmd.Process.Pid)
			if err != nil {
				return m, err
			}
			rss[i] = kib
			rssSeries.X, rssSeries.Y = append(rssSeries.X, float64(i)), append(rssSeries.Y, kib/1024)
		}
	}
	goroutines, heap, err := ch.heap(filepath.Join(r.dir, "heap.pprof"))
	if err != nil {
		m.Notes = append(m.Notes, "heap profile: "+err.Error())
	} else {
		m.Notes = append(m.Notes, fmt.Sprintf("with N = %d volumes the node process runs %d goroutines; its in-use Go heap "+
			"after a GC, top functions (`pprof -top`, inuse_space):\n\n```\n%s\n```", maxN, goroutines, strings.Join(heap, "\n")))
	}
	for _, t := range targets {
		if _, err := ch.client.NodeUnpublishVolume(ctx, unpublishRequest(t)); err != nil {
			return m, fmt.Errorf("unpublish %s: %w", t, err)
		}
	}
	limit := float64(upstreamNodeLimitMiB)
	for _, N := range r.plan.volumesN {
		m.Rows = append(m.Rows, row(fmt.Sprintf("RSS with N = %d volumes", N), "MiB", one(rss[N]/1024), one(limit),
			"upstream limit per node", "≤ 200 MiB", ratioAtMost(1)))
		last := pubs[max(0, N-5):N]
		m.Rows = append(m.Rows, row(fmt.Sprintf("publish with %d already mounted (last ≤ 5)", N-1), "ms", statOf(last),
			statOf(pubs[:1]), "first publish", "—", nil))
	}
	if maxN > 1 {
		per := (rss[maxN] - rss[1]) / float64(maxN-1)
		m.Rows = append(m.Rows, row("bytes per mounted volume", "KiB", one(per), one(limit*1024/110),
			"upstream limit / 110 pods", "≤ 100 KiB", func(s, _, _ float64) bool { return s <= 100 }))
	}
	m.Series = []Series{rssSeries}
	return m, nil
}

// childProc is a running `volumes` child and a gRPC client to it.
type childProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr bytes.Buffer
	conn   *grpc.ClientConn
	client csipb.NodeClient
}

// close ends the child by closing its stdin; it is killed if it does not
// exit within 30 s.
func (c *childProc) close() error {
	if c.conn != nil {
		c.conn.Close()
	}
	c.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("volumes child: %w: %s", err, bytes.TrimSpace(c.stderr.Bytes()))
		}
		return nil
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		return fmt.Errorf("volumes child did not exit: %w", <-done)
	}
}

func (r *runner) startVolumesChild(ctx context.Context) (*childProc, error) {
	cmd, err := childCmd(ctx, "volumes")
	if err != nil {
		return nil, err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	ch := &childProc{cmd: cmd, stdin: stdin}
	cmd.Stderr = &ch.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the volumes child: %w", err)
	}
	socket := filepath.Join(r.dir, "scale.sock")
	job := volumesJob{CAFile: r.env.kv.CAFile(), KVAddr: r.env.kv.Addr(), TTL: time.Hour, Socket: socket,
		Params: r.env.paramMap(r.env.setSecrets("vol", objectsPerPod, randomValue(2048)))}
	if err := json.NewEncoder(stdin).Encode(job); err != nil {
		ch.close()
		return nil, err
	}
	ch.stdout = bufio.NewReader(stdout)
	line, err := ch.stdout.ReadString('\n')
	if err != nil || line != "ready\n" {
		ch.close()
		return nil, fmt.Errorf("volumes child did not get ready: %q %v", line, err)
	}
	ch.conn, err = grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		ch.close()
		return nil, err
	}
	ch.client = csipb.NewNodeClient(ch.conn)
	return ch, nil
}

// heap asks the child for a heap profile and returns its goroutine count
// and top in-use functions.
func (c *childProc) heap(path string) (int, []string, error) {
	if _, err := fmt.Fprintf(c.stdin, "heap %s\n", path); err != nil {
		return 0, nil, err
	}
	line, err := c.stdout.ReadString('\n')
	if err != nil {
		return 0, nil, fmt.Errorf("volumes child: %w", err)
	}
	var goroutines int
	if _, err := fmt.Sscanf(line, "ok %d", &goroutines); err != nil {
		return 0, nil, fmt.Errorf("volumes child answered %q", strings.TrimSpace(line))
	}
	top, err := heapTop(path, 12)
	return goroutines, top, err
}
