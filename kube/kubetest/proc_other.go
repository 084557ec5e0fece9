//go:build !linux

package kubetest

import (
	"os/exec"
	"syscall"
)

// sysProcAttr has nothing to add where there are no process groups to use;
// the tests that start clusters run on Linux.
func sysProcAttr() *syscall.SysProcAttr { return nil }

func terminate(cmd *exec.Cmd) { _ = cmd.Process.Kill() }

func kill(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
