package server

import (
	"context"
	"time"
)

// driftLease: of several servers on one store, its holder checks the
// environments' infrastructure for drift on schedule.
const driftLease = "drift"

// watchDrift checks every environment's applied resources for drift every
// Deps.DriftInterval (0: never) while this server holds the drift lease:
// new drift is recorded and emitted as an infra_drift event, drift gone as
// infra_drift_resolved; unchanged drift is not reported again.
func (s *Server) watchDrift(ctx context.Context) {
	every := s.d.DriftInterval
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.checkDrift(ctx, every)
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = s.d.Store.ReleaseLease(rctx, driftLease, s.d.Holder)
			return
		case <-t.C:
		}
	}
}

// checkDrift is one scheduled check, when this server holds the lease.
func (s *Server) checkDrift(ctx context.Context, every time.Duration) {
	_, held, err := s.d.Store.AcquireLease(ctx, driftLease, s.d.Holder, 3*every, s.d.Now())
	if err != nil || !held {
		return
	}
	p, err := s.Project()
	if err != nil || len(p.ServiceStack.Components()) == 0 {
		return
	}
	e, err := s.infraEngine()
	if err != nil {
		return
	}
	for _, env := range p.EnvironmentNames() {
		rows, err := s.d.Store.InfraResources(ctx, env)
		if err != nil || len(rows) == 0 {
			continue
		}
		rep, err := e.Drift(ctx, p, env)
		if err != nil {
			s.d.Logger.Warn("scheduled drift check", "environment", env, "err", s.redact().String(err.Error()))
			continue
		}
		if _, err := s.recordDrift(ctx, rep, "belay"); err != nil {
			s.d.Logger.Warn("scheduled drift check", "environment", env, "err", err)
		}
	}
}
