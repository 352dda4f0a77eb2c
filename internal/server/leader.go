package server

import (
	"context"
	"time"
)

// Of several servers on one database, one drives the rollouts: the holder
// of the lease "leader" (store.Leases). Every server serves the API — a
// command from any of them is a stored transition the store orders — but
// only the leader runs the engine, which applies desired states to the
// target, judges canaries and starts queued releases. The leader renews its
// lease every leaderRenew and stops driving as soon as it cannot be sure it
// still holds it; the others look every leaderPoll and one takes over once
// the lease expires, resuming every rollout in flight from the store (the
// sequential tests included). A leader that stops gives the lease up, and a
// leader restarted on the same home takes its lease back at once.
const (
	leaderLease = "leader"
	leaderTTL   = 10 * time.Second
	leaderRenew = 2 * time.Second
	leaderPoll  = 2 * time.Second
)

// lead runs the engine while this server is the leader, until ctx ends.
func (s *Server) lead(ctx context.Context) {
	defer s.metrics.leader.Set(0)
	for ctx.Err() == nil {
		if until, ok := s.takeLead(ctx); ok {
			s.d.Logger.Info("leader: this server drives the rollouts", "holder", s.d.Holder)
			s.metrics.leader.Set(1)
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- s.orch.Run(runCtx, s.d.Tick) }()
			s.keepLead(runCtx, until)
			stop()
			<-done
			s.metrics.leader.Set(0)
			if ctx.Err() != nil {
				s.releaseLead(ctx)
				return
			}
			s.d.Logger.Warn("leader: lost the lead; another server drives the rollouts")
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(leaderPoll):
		}
	}
}

// takeLead tries the lease once; until is when a lease got now expires.
func (s *Server) takeLead(ctx context.Context) (until time.Time, ok bool) {
	at := s.d.Now()
	l, held, err := s.d.Store.AcquireLease(ctx, leaderLease, s.d.Holder, leaderTTL, at)
	if err != nil {
		if ctx.Err() == nil {
			s.d.Logger.Warn("leader: lease", "err", err)
		}
		return time.Time{}, false
	}
	if !held {
		if s.lastLeader != l.Holder {
			s.d.Logger.Info("leader: another server drives the rollouts", "leader", l.Holder, "until", l.ExpiresAt)
			s.lastLeader = l.Holder
		}
		return time.Time{}, false
	}
	s.lastLeader = s.d.Holder
	return at.Add(leaderTTL), true
}

// keepLead renews the lease until ctx ends or the lead is lost: another
// holds it, or renewals failed until less than a renewal interval of the
// last good one was left (the engine must stop before another may start).
func (s *Server) keepLead(ctx context.Context, until time.Time) {
	t := time.NewTicker(leaderRenew)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		at := s.d.Now()
		// A store that hangs must not keep this server leading past the
		// lease: the renewal gives up while there is still time to stop.
		rctx, cancel := context.WithDeadline(ctx, until.Add(-leaderRenew))
		_, held, err := s.d.Store.AcquireLease(rctx, leaderLease, s.d.Holder, leaderTTL, at)
		cancel()
		switch {
		case err == nil && held:
			until = at.Add(leaderTTL)
		case err == nil:
			return
		case ctx.Err() != nil:
			return
		default:
			s.d.Logger.Warn("leader: renewing the lease", "err", err, "held_until", until)
			if s.d.Now().Add(leaderRenew).After(until) {
				return
			}
		}
	}
}

// releaseLead gives the lease up so that another server need not wait.
func (s *Server) releaseLead(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.d.Store.ReleaseLease(ctx, leaderLease, s.d.Holder); err != nil {
		s.d.Logger.Warn("leader: lease not released; another server takes it when it expires", "err", err)
	}
}
