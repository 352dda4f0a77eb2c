package orchestrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/release"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
)

// followEvery bounds how often the pump looks for environments that must
// follow a rejection downstream (a few queries per service and environment).
const followEvery = 2 * time.Second

// pump starts every queued release whose environment is free, oldest
// first, and rolls back earlier environments whose policy says to follow a
// rejection. It runs before each engine tick; every start is one store
// transaction, so a crash leaves an entry waiting or started, never both.
func (o *Orchestrator) pump(ctx context.Context) {
	o.mu.Lock()
	defer o.mu.Unlock()
	qs, err := o.d.Store.ListQueue(ctx, 0, true)
	if err != nil {
		o.d.Logger.Error("release queue", "err", err)
		return
	}
	for _, q := range qs {
		if err := o.startQueued(ctx, q); err != nil && !errors.Is(err, store.ErrConflict) {
			o.d.Logger.Error("start a queued release", "release", q.ReleaseID, "environment", q.Environment, "err", err)
		}
	}
	if now := o.d.Now(); now.Sub(o.followed) >= followEvery {
		o.followed = now
		o.followRejections(ctx)
	}
}

// startQueued starts q's release in q's environment if it is free. A
// release that can no longer start there (its service left belay.yaml, its
// previous stable no longer verifies) ends its entry with the reason, so
// that `belay wait --release` says why instead of waiting forever.
func (o *Orchestrator) startQueued(ctx context.Context, q store.QueueEntry) error {
	busy, err := o.d.Store.ListRollouts(ctx, store.RolloutFilter{Active: true, Service: q.Service, Environment: q.Environment})
	if err != nil || len(busy) > 0 {
		return err
	}
	rel, err := o.d.Store.GetRelease(ctx, q.ReleaseID)
	if err != nil {
		return err
	}
	var pl release.Plan
	if err := json.Unmarshal(rel.Plan, &pl); err != nil {
		return o.endQueued(ctx, q, fmt.Sprintf("release %d has an unreadable plan: %v", rel.ID, err))
	}
	p, err := o.d.Project()
	if err != nil {
		return err // belay.yaml broken for now: keep waiting, the log says why
	}
	// The refused entry ends with the reason, audited as queue.cancel.
	if err := o.checkRefs(ctx, p, q.Environment, pl.Version, pl.Digest); err != nil {
		return o.endQueued(ctx, q, fmt.Sprintf("cannot start in %s: %v", q.Environment, err))
	}
	if err := o.checkCI(ctx, p, q.Environment, pl.Version); err != nil {
		return o.endQueued(ctx, q, fmt.Sprintf("cannot start in %s: %v", q.Environment, err))
	}
	row, eff, err := o.newRollout(ctx, p, rel, pl, q.Environment)
	if err != nil {
		return o.endQueued(ctx, q, fmt.Sprintf("cannot start in %s: %v", q.Environment, err))
	}
	_, err = o.d.Store.StartQueued(ctx, q.ID, row, eff)
	return err
}

func (o *Orchestrator) endQueued(ctx context.Context, q store.QueueEntry, reason string) error {
	return o.d.Store.EndQueued(ctx, q.ID, store.QueueCancelled, reason,
		&store.AuditEntry{At: o.d.Now().UTC(), Actor: "belay", Action: "queue.cancel", Subject: fmt.Sprintf("release/%d/%s", q.ReleaseID, q.Environment), Reason: reason})
}

// CancelQueued cancels a waiting release's entry in an environment's queue
// and returns the entry as the API shows it.
func (o *Orchestrator) CancelQueued(ctx context.Context, id int64, actor, reason string) (api.QueueView, error) {
	if actor == "" || reason == "" {
		return api.QueueView{}, errorf(ErrBadRequest, "cancelling a queued release needs an actor and a reason")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	q, err := o.d.Store.GetQueued(ctx, id)
	if err != nil {
		return api.QueueView{}, err
	}
	why := fmt.Sprintf("cancel by %s: %s", actor, reason)
	err = o.d.Store.EndQueued(ctx, id, store.QueueCancelled, why,
		&store.AuditEntry{At: o.d.Now().UTC(), Actor: actor, Action: "override.queue.cancel", Subject: fmt.Sprintf("release/%d/%s", q.ReleaseID, q.Environment), Reason: reason})
	if err != nil {
		return api.QueueView{}, err
	}
	if q, err = o.d.Store.GetQueued(ctx, id); err != nil {
		return api.QueueView{}, err
	}
	return o.queueView(ctx, q), nil
}

// followRejections rolls back every environment whose on_rejected_downstream
// is rollback and whose stable version was rolled back in another
// environment, to its newest stable version that never was. o.mu is held.
func (o *Orchestrator) followRejections(ctx context.Context) {
	p, err := o.d.Project()
	if err != nil {
		return
	}
	for _, env := range p.EnvironmentNames() {
		if p.Environment(env).OnRejectedDownstream != spec.DownstreamRollback {
			continue
		}
		for _, svc := range p.ServiceNames() {
			if err := o.followRejection(ctx, p, svc, env); err != nil {
				o.d.Logger.Warn("follow a rejection downstream", "service", svc, "environment", env, "err", err)
			}
		}
	}
}

func (o *Orchestrator) followRejection(ctx context.Context, p *spec.Project, svc, env string) error {
	prev, cur, err := release.PreviousStable(ctx, o.d.Store, svc, env)
	if err != nil || cur == nil || prev != nil && prev.Version == cur.Version {
		return err // nothing deployed, or the stable version was never rejected
	}
	busy, err := o.d.Store.ListRollouts(ctx, store.RolloutFilter{Active: true, Service: svc, Environment: env})
	if err != nil || len(busy) > 0 {
		return err
	}
	if prev == nil {
		return fmt.Errorf("%s runs %s, which was rolled back elsewhere, and has no earlier stable version to return to", env, cur.Version)
	}
	eff, err := p.Effective(svc, env)
	if err != nil {
		return err
	}
	rej, err := o.d.Store.Rejections(ctx, svc, cur.Version)
	if err != nil || len(rej) == 0 {
		return err
	}
	reason := fmt.Sprintf("%s was rolled back in %s; on_rejected_downstream: rollback", cur.Version, rej[len(rej)-1].Environment)
	_, err = o.startRollback(ctx, eff, *cur, runOf(eff, prev.Version, prev.Digest), rollout.Command{Actor: "belay", Reason: reason}, "rollback.rejected_downstream")
	return err
}
