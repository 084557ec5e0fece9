//go:build linux

package kubetest

import (
	"os/exec"
	"syscall"
)

// sysProcAttr puts the child in its own process group (so stop reaches
// anything it forks) and has the kernel kill it if the test binary dies
// without cleaning up (a -timeout panic, a SIGKILL).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func terminate(cmd *exec.Cmd) { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }

func kill(cmd *exec.Cmd) { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
