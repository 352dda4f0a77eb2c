package keeper

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// child is one run of the child binary.
type child struct {
	cmd       *exec.Cmd
	pid       int
	started   time.Time
	ready     chan struct{} // closed when the child reports Ready
	readyOnce sync.Once
	done      chan struct{} // closed once the child has exited and been reaped
	state     *os.ProcessState
	exited    time.Time // state and exited are set before done is closed
}

func (c *child) markReady() { c.readyOnce.Do(func() { close(c.ready) }) }

// signal sends sig; a child already reaped is left alone (os.Process knows,
// so a recycled pid is never signalled).
func (c *child) signal(sig syscall.Signal) { _ = c.cmd.Process.Signal(sig) }

func (c *child) uptime() time.Duration { return c.exited.Sub(c.started) }

// start starts one child with its own keeper connection on fd 3.
func (s *Supervisor) start() (*child, error) {
	c := &child{ready: make(chan struct{}), done: make(chan struct{})}
	end, err := s.Keeper.pair(c.markReady)
	if err != nil {
		return nil, fmt.Errorf("keeper: connection for a child: %w", err)
	}
	cmd := &exec.Cmd{
		Path:       s.path,
		Args:       s.Args,
		Env:        append(append(os.Environ(), s.Env...), EnvFD+"=3"),
		Stdout:     s.stdout,
		Stderr:     s.stderr,
		ExtraFiles: []*os.File{end}, // fd 3
		// The child stays in the keeper's process group, so a Ctrl-C at a
		// terminal reaches both; the loop does not restart a child that
		// exits because of it.
		//
		// When the keeper dies, even by kill -9, the child gets SIGUSR1,
		// the hand-over signal: it drains and exits, leaving the service
		// instances for the next agent to adopt. A child left serving with
		// nobody to restart it would look healthy until its first crash,
		// and would hold the listen addresses against a new keeper; SIGTERM
		// would make an agent run with --stop-on-exit stop every service.
		// (Pdeathsig follows the thread that forked; Go only ends threads
		// of goroutines that exit while locked to them, which nothing here
		// does.)
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGUSR1},
	}
	c.started = time.Now()
	err = cmd.Start()
	end.Close() // only the child holds its end now, so its exit reads as EOF
	if err != nil {
		return nil, fmt.Errorf("keeper: start %s: %w", s.path, err)
	}
	c.cmd, c.pid = cmd, cmd.Process.Pid
	s.mu.Lock()
	stopping := s.stopping
	if !stopping {
		s.live[c] = struct{}{}
	}
	s.mu.Unlock()
	go s.reap(c)
	if stopping {
		c.signal(syscall.SIGKILL)
		<-c.done
		return nil, ErrStopping
	}
	s.log.Info("keeper: child started", "pid", c.pid, "path", s.path)
	return c, nil
}

// reap waits for the child to exit and records how.
func (s *Supervisor) reap(c *child) {
	go func() {
		select {
		case <-c.ready:
			s.log.Info("keeper: child ready", "pid", c.pid)
		case <-c.done:
		}
	}()
	_ = c.cmd.Wait()
	c.state, c.exited = c.cmd.ProcessState, time.Now()
	s.mu.Lock()
	delete(s.live, c)
	s.mu.Unlock()
	s.log.Info("keeper: child exited", "pid", c.pid, "status", c.state.String(), "uptime", c.uptime().Round(time.Millisecond))
	close(c.done)
}

// terminate asks children to exit with SIGTERM (or the signal a SIGUSR2
// chose) and kills those still running after StopTimeout.
func (s *Supervisor) terminate(kids []*child) {
	s.mu.Lock()
	sig := s.childStop
	s.mu.Unlock()
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	for _, c := range kids {
		c.signal(sig)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.stopTimeout())
	defer cancel()
	for _, c := range kids {
		select {
		case <-c.done:
		case <-ctx.Done():
			s.log.Warn("keeper: child did not stop in time; killing it", "pid", c.pid, "after", s.stopTimeout())
			c.signal(syscall.SIGKILL)
			<-c.done
		}
	}
}

// output returns the file a child writes w through. An *os.File (or nil,
// meaning std) is passed as it is. Any other writer is fed from a pipe the
// Supervisor owns and closes when Run returns: were it exec's own pipe,
// Wait would wait for the copy, and a service process that inherited the
// child's stdout would hold up reaping and restarting the child.
func (s *Supervisor) output(w io.Writer, std *os.File) (*os.File, error) {
	if w == nil {
		return std, nil
	}
	if f, ok := w.(*os.File); ok {
		return f, nil
	}
	r, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	go func() {
		_, _ = io.Copy(w, r)
		r.Close()
	}()
	s.closers = append(s.closers, pw)
	return pw, nil
}
