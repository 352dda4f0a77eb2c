package keeper

import (
	"context"
	"fmt"
	"syscall"
)

// Upgrade starts a new child from the binary now at the supervisor's path,
// waits up to ReadyTimeout for it to report Ready, makes it the serving
// child and sends the old one SIGUSR1 (hand over: stop accepting, drain,
// exit). The old child's exit is then awaited in the background and does
// not cause a restart. If the new child exits or is not Ready in time, it
// is stopped, the old child keeps serving, and the error wraps ErrUpgrade.
// SIGHUP to the keeper does the same.
func (s *Supervisor) Upgrade(ctx context.Context) error {
	if err := s.beginUpgrade(); err != nil {
		return err
	}
	defer s.endUpgrade()
	s.log.Info("keeper: upgrade: starting a new child", "path", s.path)
	nc, err := s.start()
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrUpgrade, err)
		s.log.Error("keeper: upgrade failed", "err", err)
		return err
	}
	s.mu.Lock()
	s.pending = nc
	s.mu.Unlock()
	if err := s.awaitReady(ctx, nc); err != nil {
		s.log.Error("keeper: upgrade failed", "pid", nc.pid, "err", err)
		s.discard(nc)
		return err
	}
	return s.handOver(nc)
}

func (s *Supervisor) beginUpgrade() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.running:
		return ErrNotRunning
	case s.stopping:
		return ErrStopping
	case s.upgrading:
		return ErrBusy
	case s.serving == nil:
		return ErrNoChild
	}
	s.upgrading = true
	return nil
}

func (s *Supervisor) endUpgrade() {
	s.mu.Lock()
	s.upgrading, s.pending = false, nil
	s.mu.Unlock()
}

func (s *Supervisor) awaitReady(ctx context.Context, c *child) error {
	ctx, cancel := context.WithTimeout(ctx, s.readyTimeout())
	defer cancel()
	select {
	case <-c.ready:
		return nil
	case <-c.done:
		return fmt.Errorf("%w: new child %d exited before it was ready (%s)", ErrUpgrade, c.pid, c.state)
	case <-ctx.Done():
		return fmt.Errorf("%w: new child %d not ready: %w (ReadyTimeout %s)", ErrUpgrade, c.pid, ctx.Err(), s.readyTimeout())
	}
}

// discard stops an upgrade's child that did not become Ready, unless the
// old child died meanwhile and it took over: then it is the loop's to
// watch and restart.
func (s *Supervisor) discard(c *child) {
	s.mu.Lock()
	serving := s.serving == c
	s.pending = nil
	s.mu.Unlock()
	if !serving {
		s.terminate([]*child{c})
	}
}

// handOver makes nc the serving child and tells the old one to drain.
func (s *Supervisor) handOver(nc *child) error {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return fmt.Errorf("%w: %w", ErrUpgrade, ErrStopping) // stop terminates nc
	}
	old := s.serving
	s.serving, s.pending = nc, nil
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}: // the loop now watches nc
	default:
	}
	s.writePIDFile()
	if old != nil && old != nc {
		s.log.Info("keeper: upgrade: new child ready; old child draining", "old", old.pid, "new", nc.pid)
		old.signal(syscall.SIGUSR1)
	}
	return nil
}
