//go:build !unix

package hook

import "os/exec"

// killGroup falls back to killing the shell alone where process groups do not exist.
func killGroup(*exec.Cmd) {}
