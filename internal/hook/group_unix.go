//go:build unix

package hook

import (
	"os/exec"
	"syscall"
)

// killGroup puts the command in its own process group and makes
// cancellation kill the group, not only the shell.
func killGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
