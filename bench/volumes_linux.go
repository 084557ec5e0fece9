//go:build linux

package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/secretfs/secretfs/vault"
	"github.com/secretfs/secretfs/volume"
)

// volumesJob starts a secretfs node service in a child process, so its RSS
// is that of a process doing only that, as `secretfs node` does.
type volumesJob struct {
	CAFile string            `json:"ca_file"` // the emulator's CA
	KVAddr string            `json:"kv_addr"` // where *.test is dialled
	TTL    time.Duration     `json:"ttl"`
	Socket string            `json:"socket"` // the CSI endpoint to serve
	Params map[string]string `json:"params"` // class bench/spc
}

// runVolumesChild serves the CSI node service until stdin closes. It says
// "ready" on stdout once serving.
func runVolumesChild(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	br := bufio.NewReader(stdin)
	var job volumesJob
	if err := json.NewDecoder(br).Decode(&job); err != nil {
		return fmt.Errorf("volumes job: %w", err)
	}
	tr, err := vault.NewTransport(job.CAFile, map[string]string{"test": job.KVAddr})
	if err != nil {
		return err
	}
	n, err := newNode(job.TTL, "fuse", volume.FuseOptions{}, tr)
	if err != nil {
		return err
	}
	defer n.close()
	classes := newClassMap()
	classes.set("bench", "spc", job.Params)
	c, err := startCSI(n, classes, job.Socket, filepath.Dir(job.Params["cloudEnvFileName"]))
	if err != nil {
		return err
	}
	defer c.stop()
	fmt.Fprintln(stdout, "ready")
	eof := make(chan struct{})
	go func() { serveCommands(br, stdout); close(eof) }()
	select {
	case <-eof:
	case <-ctx.Done():
	}
	return nil
}

// serveCommands answers the parent's requests, one per line, until EOF:
// "heap PATH" writes a heap profile (after a GC) to PATH and answers
// "ok GOROUTINES".
func serveCommands(in *bufio.Reader, out io.Writer) {
	for {
		line, err := in.ReadString('\n')
		if path, ok := strings.CutPrefix(strings.TrimSpace(line), "heap "); ok {
			if werr := writeHeap(path); werr != nil {
				fmt.Fprintf(out, "error %v\n", werr)
			} else {
				fmt.Fprintf(out, "ok %d\n", runtime.NumGoroutine())
			}
		}
		if err != nil {
			return
		}
	}
}

func writeHeap(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// rssKiB reads VmRSS of pid from /proc.
func rssKiB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.ParseFloat(f[0], 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
