// Package hook runs a service's hooks (a migration, a pre-deploy or
// post-promote command) as `sh -c` with a timeout, and keeps the exit code and
// a bounded copy of the combined output as evidence.
package hook

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// Errors Run reports; a Result is returned with them.
var (
	ErrFailed  = errors.New("hook failed")    // the command exited non-zero or could not start
	ErrTimeout = errors.New("hook timed out") // the command outlived its timeout and was killed
)

// DefaultTimeout bounds a hook that declares none: a migration that hangs
// must not hold a rollout forever.
const DefaultTimeout = 10 * time.Minute

// DefaultMaxOutput is how much output a Result keeps when a Spec sets no bound.
const DefaultMaxOutput = 64 << 10

// Spec is one command to run.
type Spec struct {
	Name      string            `json:"name"`
	Command   string            `json:"command"` // run as sh -c COMMAND
	Dir       string            `json:"dir,omitempty"`
	Env       map[string]string `json:"env,omitempty"` // added to the environment belay runs in
	Timeout   time.Duration     `json:"timeout,omitempty"`
	MaxOutput int               `json:"max_output,omitempty"` // bytes of output kept
}

// Result is what happened, kept as evidence.
type Result struct {
	Name      string        `json:"name"`
	Command   string        `json:"command"`
	ExitCode  int           `json:"exit_code"` // -1 when killed or not started
	Output    string        `json:"output"`    // combined stdout and stderr, head and tail when truncated
	Truncated bool          `json:"truncated,omitempty"`
	TimedOut  bool          `json:"timed_out,omitempty"`
	Started   time.Time     `json:"started"`
	Duration  time.Duration `json:"duration"`
}

// Run runs spec and waits for it. When the timeout passes or ctx ends, the
// whole process group is killed, so children of the shell die too.
func Run(ctx context.Context, spec Spec) (Result, error) {
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	max := spec.MaxOutput
	if max <= 0 {
		max = DefaultMaxOutput
	}
	res := Result{Name: spec.Name, Command: spec.Command, ExitCode: -1, Started: time.Now()}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cmd := exec.CommandContext(cctx, "sh", "-c", spec.Command)
	cmd.Dir = spec.Dir
	cmd.Env = os.Environ()
	for k, v := range spec.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out := newBounded(max)
	cmd.Stdout, cmd.Stderr = out, out
	killGroup(cmd)
	// Output pipes held open by an orphan must not keep Wait blocked.
	cmd.WaitDelay = 2 * time.Second

	err := cmd.Run()
	res.Duration = time.Since(res.Started)
	res.Output, res.Truncated = out.String(), out.Truncated()
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	switch {
	case errors.Is(cctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
		res.TimedOut, res.ExitCode = true, -1
		return res, fmt.Errorf("%w: %s after %s (process group killed); raise its timeout or fix the command", ErrTimeout, label(spec), timeout)
	case ctx.Err() != nil:
		return res, fmt.Errorf("%w: %s: %w", ErrFailed, label(spec), ctx.Err())
	case err != nil:
		return res, fmt.Errorf("%w: %s: %w", ErrFailed, label(spec), err)
	}
	return res, nil
}

func label(s Spec) string {
	if s.Name != "" {
		return fmt.Sprintf("hook %q", s.Name)
	}
	return fmt.Sprintf("hook `%s`", s.Command)
}
