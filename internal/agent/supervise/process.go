// Package supervise runs one service instance as a child process: it starts
// it in its own process group with its output in a log file, restarts it with
// exponential backoff when it exits, stops it with SIGTERM then SIGKILL, and
// can adopt an instance left running by an earlier agent (from its pid file).
package supervise

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrStart marks an instance whose command could not be started.
var ErrStart = errors.New("cannot start instance")

// Spec says how to run one instance.
type Spec struct {
	Path    string   // absolute path of the executable
	Args    []string // arguments after the program name
	Env     []string // whole environment, KEY=VALUE
	Dir     string   // working directory
	LogPath string   // stdout and stderr are appended here
	PidPath string   // where the running pid is recorded for adoption
	Grace   time.Duration
	Limits  []Limit
	// Backoff bounds restarts after crashes; zero means 100ms growing to 5s.
	MinBackoff, MaxBackoff time.Duration
	// OnExit, when set, is called as soon as the process ends unasked
	// (a crash), before the backoff: the caller takes it out of service.
	OnExit func()
}

// Process is one supervised instance. Its methods are safe for concurrent use.
type Process struct {
	spec     Spec
	log      *slog.Logger
	restarts atomic.Int64
	pid      atomic.Int64
	started  atomic.Int64 // unix nanos of the current process's start
	restart  chan struct{}
	stop     chan struct{}
	detach   chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// Start supervises a new instance. When adopt names a live process that an
// earlier agent started for the same spec, it is adopted instead of started.
func Start(spec Spec, log *slog.Logger, adopt *PidFile) *Process {
	if spec.Grace <= 0 {
		spec.Grace = 10 * time.Second
	}
	if spec.MinBackoff <= 0 {
		spec.MinBackoff = 100 * time.Millisecond
	}
	if spec.MaxBackoff <= 0 {
		spec.MaxBackoff = 5 * time.Second
	}
	p := &Process{spec: spec, log: log, restart: make(chan struct{}, 1), stop: make(chan struct{}), detach: make(chan struct{}), done: make(chan struct{})}
	go p.loop(adopt)
	return p
}

// Pid is the running process id, 0 while none runs.
func (p *Process) Pid() int { return int(p.pid.Load()) }

// Restarts counts how often the instance was started again after the first time.
func (p *Process) Restarts() int64 { return p.restarts.Load() }

// StartedAt is when the current process started (zero while none runs).
func (p *Process) StartedAt() time.Time {
	n := p.started.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Restart terminates the running process (SIGTERM, then SIGKILL after the
// grace period) and starts it again.
func (p *Process) Restart() {
	select {
	case p.restart <- struct{}{}:
	default:
	}
}

// Stop terminates the process and stops supervising it; it returns once the
// process is gone and its pid file removed.
func (p *Process) Stop() {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
}

// Detach stops supervising but leaves the process running with its pid
// file, for the next agent to adopt (as when this agent exits).
func (p *Process) Detach() {
	p.stopOnce.Do(func() { close(p.detach) })
	<-p.done
}

// Done is closed once the instance is stopped for good.
func (p *Process) Done() <-chan struct{} { return p.done }

func (p *Process) loop(adopt *PidFile) {
	defer close(p.done)
	backoff := p.spec.MinBackoff
	first := true
	for {
		var h *handle
		if adopt != nil && adopt.Alive() {
			h = adopted(adopt.Pid)
			p.log.Info("adopted running instance", "pid", adopt.Pid)
		} else {
			var err error
			h, err = p.spawn()
			if err != nil {
				p.log.Error("start instance", "err", err)
				if !p.sleep(backoff) {
					return
				}
				backoff = min(2*backoff, p.spec.MaxBackoff)
				continue
			}
		}
		adopt = nil
		if !first {
			p.restarts.Add(1)
		}
		first = false
		p.pid.Store(int64(h.pid))
		p.started.Store(time.Now().UnixNano())
		if err := WritePidFile(p.spec.PidPath, h.pid); err != nil {
			p.log.Warn("write pid file", "err", err)
		}
		began := time.Now()
		select {
		case <-h.exited:
			p.pid.Store(0)
			if p.spec.OnExit != nil {
				p.spec.OnExit()
			}
			p.log.Warn("instance exited", "pid", h.pid, "status", h.status())
			if time.Since(began) > 10*time.Second {
				backoff = p.spec.MinBackoff
			}
			if !p.sleep(backoff) {
				_ = os.Remove(p.spec.PidPath)
				return
			}
			backoff = min(2*backoff, p.spec.MaxBackoff)
		case <-p.restart:
			p.log.Info("restarting instance", "pid", h.pid)
			h.terminate(p.spec.Grace)
			p.pid.Store(0)
		case <-p.stop:
			h.terminate(p.spec.Grace)
			p.pid.Store(0)
			_ = os.Remove(p.spec.PidPath)
			return
		case <-p.detach:
			return
		}
	}
}

// sleep waits d unless the process is being stopped; it reports whether to go on.
func (p *Process) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.restart:
		return true
	case <-p.stop:
		return false
	case <-p.detach:
		return false
	}
}

func (p *Process) spawn() (*handle, error) {
	if err := os.MkdirAll(filepath.Dir(p.spec.LogPath), 0o755); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStart, err)
	}
	out, err := os.OpenFile(p.spec.LogPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w: open log: %v", ErrStart, err)
	}
	defer out.Close()
	fmt.Fprintf(out, "=== belay: starting %s at %s\n", p.spec.Path, time.Now().UTC().Format(time.RFC3339))
	cmd := &exec.Cmd{
		Path:   p.spec.Path,
		Args:   append([]string{p.spec.Path}, p.spec.Args...),
		Env:    p.spec.Env,
		Dir:    p.spec.Dir,
		Stdout: out, // an *os.File is inherited directly: output survives the agent
		Stderr: out,
		// Own process group: the instance outlives an agent crash, and a
		// signal to the group reaches the children it started.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(out, "=== belay: start failed: %v\n", err)
		return nil, fmt.Errorf("%w: %s: %v", ErrStart, p.spec.Path, err)
	}
	applyLimits(cmd.Process.Pid, p.spec.Limits, p.log)
	h := &handle{pid: cmd.Process.Pid, exited: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		h.mu.Lock()
		h.err = err
		h.mu.Unlock()
		close(h.exited)
	}()
	return h, nil
}
