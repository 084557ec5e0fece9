//go:build linux

package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
)

// ChildEnv names the environment variable that makes this binary (or the
// package's test binary) run as a child of the harness instead: "reader" or
// "volumes". The child reads its job as JSON on stdin.
const ChildEnv = "SECRETFS_BENCH_CHILD"

// RunChild runs the child job named by ChildEnv, if set, and reports whether
// it did. main and TestMain call it first and exit when it returns true.
func RunChild(ctx context.Context, stdin io.Reader, stdout io.Writer) (bool, error) {
	switch os.Getenv(ChildEnv) {
	case "":
		return false, nil
	case "reader":
		return true, runReaderChild(stdin, stdout)
	case "volumes":
		return true, runVolumesChild(ctx, stdin, stdout)
	default:
		return true, fmt.Errorf("%s=%q: want reader or volumes", ChildEnv, os.Getenv(ChildEnv))
	}
}

// childCmd is this executable re-run as a child of kind.
func childCmd(ctx context.Context, kind string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this executable to re-run as a %s: %w", kind, err)
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), ChildEnv+"="+kind)
	if kind == "reader" {
		// No SIGURG preemption signals: a signal landing in a blocking open
		// of a FUSE file makes the kernel send INTERRUPT, which secretfs
		// currently turns into EIO for a cold read (see measure 2's notes).
		// A reader is one goroutine, so nothing needs preempting.
		cmd.Env = append(cmd.Env, "GODEBUG=asyncpreemptoff=1")
	}
	return cmd, nil
}

// runReader runs one reader process on job and returns its result.
func runReader(ctx context.Context, job readerJob) (readerOut, error) {
	p, err := startReader(ctx, job)
	if err != nil {
		return readerOut{}, err
	}
	return p.wait()
}

// readerProc is a started reader process.
type readerProc struct {
	cmd      *exec.Cmd
	out, err bytes.Buffer
}

func startReader(ctx context.Context, job readerJob) (*readerProc, error) {
	cmd, err := childCmd(ctx, "reader")
	if err != nil {
		return nil, err
	}
	in, err := json.Marshal(job)
	if err != nil {
		return nil, err
	}
	p := &readerProc{cmd: cmd}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(in), &p.out, &p.err
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting reader: %w", err)
	}
	return p, nil
}

func (p *readerProc) wait() (readerOut, error) {
	var out readerOut
	if err := p.cmd.Wait(); err != nil {
		return out, fmt.Errorf("reader: %w: %s", err, bytes.TrimSpace(p.err.Bytes()))
	}
	if err := json.Unmarshal(p.out.Bytes(), &out); err != nil {
		return out, fmt.Errorf("reader output: %w", err)
	}
	if out.Err != "" {
		return out, errors.New("reader: " + out.Err)
	}
	return out, nil
}
