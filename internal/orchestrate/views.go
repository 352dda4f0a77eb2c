package orchestrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/explain"
	"github.com/belay-dev/belay/internal/release"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/target"
)

// View is a stored rollout as the API shows it; with state, the engine's
// state and the time left of a watch.
func (o *Orchestrator) View(r store.Rollout, withState bool) api.RolloutView {
	v := api.RolloutView{ID: r.ID, Release: r.ReleaseID, Service: r.Service, Environment: r.Environment, Version: r.Version,
		Phase: r.Phase, Terminal: r.Terminal, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if st, err := decodeState(r); err == nil {
		v.Kind, v.Reason = st.Kind, st.Reason
		if st.Phase == rollout.Watching {
			v.WatchLeft = st.WatchLeft(o.d.Now()).Round(time.Second).String()
		}
	}
	if withState {
		v.State = r.State
	}
	return v
}

// Explain returns a rollout with every transition and the evidence behind it.
func (o *Orchestrator) Explain(ctx context.Context, id int64) (api.RolloutView, error) {
	row, err := o.d.Store.GetRollout(ctx, id)
	if err != nil {
		return api.RolloutView{}, err
	}
	v := o.View(row, true)
	ts, err := o.d.Store.Transitions(ctx, id)
	if err != nil {
		return v, err
	}
	for _, t := range ts {
		var rt rollout.Transition
		if err := json.Unmarshal(t.Evidence, &rt); err != nil {
			rt = rollout.Transition{Seq: t.Seq, At: t.At, From: rollout.Phase(t.From), To: rollout.Phase(t.To), Reason: t.Reason}
		}
		v.Transitions = append(v.Transitions, rt)
	}
	if st, err := decodeState(row); err == nil {
		e := explain.Rollout(st, v.Transitions)
		v.Summary, v.Decisions = e.Summary, e.Decisions
	}
	return v, nil
}

// Status is every service (or one) in every environment.
func (o *Orchestrator) Status(ctx context.Context, only string) ([]api.ServiceStatus, error) {
	p, err := o.d.Project()
	if err != nil {
		return nil, err
	}
	names := p.ServiceNames()
	if only != "" {
		if p.Service(only) == nil {
			return nil, fmt.Errorf("%w: unknown service %q", store.ErrNotFound, only)
		}
		names = []string{only}
	}
	queue, err := o.Queue(ctx, 0, true)
	if err != nil {
		return nil, err
	}
	var out []api.ServiceStatus
	for _, svc := range names {
		ss := api.ServiceStatus{Service: svc}
		for _, env := range p.EnvironmentNames() {
			es := o.envStatus(ctx, svc, env)
			es.OnRejected = string(p.Environment(env).OnRejectedDownstream)
			for _, q := range queue {
				if q.Service == svc && q.Environment == env {
					es.Queue = append(es.Queue, q)
				}
			}
			ss.Environments = append(ss.Environments, es)
		}
		out = append(out, ss)
	}
	return out, nil
}

func (o *Orchestrator) envStatus(ctx context.Context, svc, env string) api.EnvStatus {
	es := api.EnvStatus{Environment: env}
	if prev, cur, err := release.PreviousStable(ctx, o.d.Store, svc, env); err == nil && cur != nil {
		es.Stable = cur.Version
		es.Rejected = prev == nil || prev.Version != cur.Version
		if es.Rejected {
			o.rejectedWhere(ctx, &es, svc, prev)
		}
	}
	if rows, err := o.d.Store.ListRollouts(ctx, store.RolloutFilter{Active: true, Service: svc, Environment: env}); err == nil && len(rows) > 0 {
		v := o.View(rows[0], false)
		es.Rollout = &v
	}
	obs, err := o.d.Target.Observe(ctx, env, svc)
	if err != nil && !errors.Is(err, target.ErrNotFound) {
		es.ObserveErr = err.Error()
	} else if err == nil {
		es.Observed = &obs
	}
	return es
}

// rejectedWhere fills in where and when es's stable version was last rolled
// back, and what a rollback of es's environment would return to.
func (o *Orchestrator) rejectedWhere(ctx context.Context, es *api.EnvStatus, svc string, prev *store.StableVersion) {
	if prev != nil {
		es.RollbackTo = prev.Version
	}
	rej, err := o.d.Store.Rejections(ctx, svc, es.Stable)
	if err != nil || len(rej) == 0 {
		return
	}
	last := rej[len(rej)-1]
	at := last.At.UTC()
	es.RejectedIn, es.RejectedAt, es.RejectedRollout = last.Environment, &at, last.RolloutID
}

// History lists the rollouts of a service in an environment, or in every
// environment when env is empty, newest first.
func (o *Orchestrator) History(ctx context.Context, service, env string) ([]api.RolloutView, error) {
	var rows []store.Rollout
	var err error
	if env == "" {
		rows, err = o.d.Store.ListRollouts(ctx, store.RolloutFilter{Service: service})
		slices.Reverse(rows) // newest first, as History lists one environment
	} else {
		rows, err = o.d.Store.History(ctx, service, env)
	}
	out := make([]api.RolloutView, 0, len(rows))
	for _, row := range rows {
		out = append(out, o.View(row, false))
	}
	return out, err
}

// Queue lists queue entries (only waiting ones, of one release when > 0).
func (o *Orchestrator) Queue(ctx context.Context, releaseID int64, waitingOnly bool) ([]api.QueueView, error) {
	qs, err := o.d.Store.ListQueue(ctx, releaseID, waitingOnly)
	if err != nil {
		return nil, err
	}
	out := make([]api.QueueView, 0, len(qs))
	for _, q := range qs {
		out = append(out, o.queueView(ctx, q))
	}
	return out, nil
}

// queueView is a queue entry as the API shows it: with its release's
// version and, while it waits, the rollout it waits for.
func (o *Orchestrator) queueView(ctx context.Context, q store.QueueEntry) api.QueueView {
	v := api.QueueView{ID: q.ID, Release: q.ReleaseID, Service: q.Service, Environment: q.Environment, State: q.State,
		Reason: q.Reason, Rollout: q.RolloutID, CreatedAt: q.CreatedAt}
	if rel, err := o.d.Store.GetRelease(ctx, q.ReleaseID); err == nil {
		v.Version = rel.Version
	}
	if q.State == store.QueueWaiting {
		if busy, err := o.d.Store.ListRollouts(ctx, store.RolloutFilter{Active: true, Service: q.Service, Environment: q.Environment}); err == nil && len(busy) > 0 {
			v.Reason = fmt.Sprintf("waiting for rollout %d of %s (%s)", busy[0].ID, busy[0].Version, busy[0].Phase)
		}
	}
	return v
}

// ReleaseView follows a release through its environments: done, with its
// outcome, once it reached the last one, was rolled back, failed, or its
// queue entry ended.
func (o *Orchestrator) ReleaseView(ctx context.Context, id int64) (api.ReleaseView, error) {
	rel, err := o.d.Store.GetRelease(ctx, id)
	if err != nil {
		return api.ReleaseView{}, err
	}
	var pl release.Plan
	_ = json.Unmarshal(rel.Plan, &pl)
	v := api.ReleaseView{ID: rel.ID, Service: rel.Service, Version: rel.Version, Owner: rel.Owner, Environments: pl.Environments, CreatedAt: rel.CreatedAt}
	rows, err := o.d.Store.ListRollouts(ctx, store.RolloutFilter{Release: id})
	if err != nil {
		return v, err
	}
	for _, r := range rows {
		v.Rollouts = append(v.Rollouts, o.View(r, false))
	}
	if v.Queue, err = o.Queue(ctx, id, false); err != nil {
		return v, err
	}
	v.Outcome, v.Reason = outcome(v)
	v.Done = v.Outcome != api.OutcomeRunning && v.Outcome != api.OutcomeWaiting
	return v, nil
}

// outcome reads a release's state off its rollouts and queue entries.
func outcome(v api.ReleaseView) (string, string) {
	for _, q := range v.Queue {
		switch q.State {
		case store.QueueWaiting:
			return api.OutcomeWaiting, fmt.Sprintf("waiting to enter %s: %s", q.Environment, q.Reason)
		case store.QueueCancelled, store.QueueSuperseded:
			return api.OutcomeCancelled, fmt.Sprintf("%s in %s: %s", q.State, q.Environment, q.Reason)
		}
	}
	if len(v.Rollouts) == 0 {
		return api.OutcomeFailed, "the release has no rollout: it was never started"
	}
	last := v.Rollouts[len(v.Rollouts)-1]
	why := fmt.Sprintf("rollout %d in %s: %s", last.ID, last.Environment, last.Reason)
	switch rollout.Phase(last.Phase) {
	case rollout.RolledBack:
		return api.OutcomeRolledBack, why
	case rollout.Failed:
		return api.OutcomeFailed, why
	case rollout.Succeeded:
		if len(v.Environments) > 0 && last.Environment == v.Environments[len(v.Environments)-1] || last.Kind == rollout.KindRollback {
			return api.OutcomeSucceeded, why
		}
		return api.OutcomeWaiting, fmt.Sprintf("promoted in %s; entering the next environment", last.Environment)
	}
	return api.OutcomeRunning, why
}
