package server

import (
	"context"
	"fmt"
	"time"

	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/target"
)

// RollbackAnswer reports a fast-path rollback.
type RollbackAnswer struct {
	Service     string `json:"service"`
	Environment string `json:"environment"`
	From        string `json:"from"`
	To          string `json:"to"`
}

// rollbackIdle rolls back a service with no rollout in flight: to (default:
// the stable version before the current one) takes all traffic.
func (s *Server) rollbackIdle(ctx context.Context, eff *spec.Effective, to *target.Version, actor, reason string) (RollbackAnswer, error) {
	svc, env := eff.ServiceName, eff.EnvName
	hist, err := s.d.Store.StableHistory(ctx, svc, env)
	if err != nil {
		return RollbackAnswer{}, err
	}
	if len(hist) == 0 {
		return RollbackAnswer{}, fmt.Errorf("%w: %s has never been deployed to %s", store.ErrNotFound, svc, env)
	}
	cur := hist[0].Version
	if to == nil {
		for _, h := range hist[1:] {
			if h.Version != cur {
				v := runOf(eff, h.Version, h.Digest)
				to = &v
				break
			}
		}
		if to == nil {
			return RollbackAnswer{}, fmt.Errorf("%w: %s in %s has no earlier stable version than %s; name one with --to", ErrBadRequest, svc, env, cur)
		}
	}
	if to.Version == cur {
		return RollbackAnswer{}, fmt.Errorf("%w: %s is already the stable version of %s in %s", ErrBadRequest, cur, svc, env)
	}
	want := target.Desired{Environment: env, Service: svc, Listen: eff.Listen, VersionHeader: VersionHeader,
		DrainTimeout: time.Duration(eff.Rollout.DrainTimeout), Versions: []target.Version{withWeight(*to, 100)}}
	if err := s.d.Target.Apply(ctx, want); err != nil {
		return RollbackAnswer{}, fmt.Errorf("roll %s in %s back to %s: %w", svc, env, to.Version, err)
	}
	now := s.d.Now().UTC()
	if err := s.d.Store.SetStable(ctx, store.StableVersion{Service: svc, Environment: env, Version: to.Version, Digest: to.Artifact, At: now}); err != nil {
		return RollbackAnswer{}, err
	}
	if _, err := s.d.Store.AppendAudit(ctx, store.AuditEntry{At: now, Actor: actor, Action: "override.rollback", Subject: "service/" + svc + "/" + env, Reason: reason}); err != nil {
		return RollbackAnswer{}, err
	}
	_ = s.Emit(ctx, event.Event{Event: event.DeploymentRolledBack, Service: svc, Environment: env, Version: to.Version, PreviousStable: cur, Actor: actor, Reason: reason})
	return RollbackAnswer{Service: svc, Environment: env, From: cur, To: to.Version}, nil
}

func withWeight(v target.Version, w float64) target.Version {
	v.Weight = w
	return v
}
