package orchestrate

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/target"
)

// Rollback returns a service in an environment to an earlier version: an
// active rollout is rolled back through the engine; otherwise a rollout of
// kind rollback is created (so a crash resumes it like any other), whose
// end records the target as stable and the version it left as rejected.
// A target that was rolled back somewhere or never stable here needs Force.
func (o *Orchestrator) Rollback(ctx context.Context, req api.RollbackRequest) (api.RollbackAnswer, error) {
	if req.Actor == "" || strings.TrimSpace(req.Reason) == "" {
		return api.RollbackAnswer{}, errorf(ErrBadRequest, "a rollback needs an actor and a reason")
	}
	p, err := o.d.Project()
	if err != nil {
		return api.RollbackAnswer{}, err
	}
	eff, err := p.Effective(req.Service, req.Env)
	if err != nil {
		return api.RollbackAnswer{}, errorf(ErrBadRequest, "%v", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var to *target.Version
	forced := ""
	if req.To != "" {
		digest, err := o.d.Artifacts.Verify(ctx, req.To)
		if err != nil {
			return api.RollbackAnswer{}, errorf(ErrBadRequest, "cannot roll back to %s: %v", req.To, err)
		}
		if forced, err = o.checkTarget(ctx, req.Service, req.Env, req.To, req.Force); err != nil {
			return api.RollbackAnswer{}, err
		}
		v := runOf(eff, req.To, digest)
		to = &v
	}
	rows, err := o.d.Store.ListRollouts(ctx, store.RolloutFilter{Active: true, Service: req.Service, Environment: req.Env})
	if err != nil {
		return api.RollbackAnswer{}, err
	}
	reason := req.Reason
	if forced != "" {
		reason += " (forced: " + forced + ")"
	}
	if len(rows) > 0 {
		r := rows[0]
		st, err := o.engine.Command(ctx, strconv.FormatInt(r.ID, 10), rollout.Command{Kind: rollout.CmdRollback, Actor: req.Actor,
			Reason: reason, To: to, AcceptContract: req.AcceptContract})
		if err != nil {
			return api.RollbackAnswer{}, err
		}
		ans := api.RollbackAnswer{Service: req.Service, Environment: req.Env, From: st.New.Version, Rollout: r.ID, Forced: forced}
		if t := st.RollbackTarget(); t != nil {
			ans.To = t.Version
		}
		return ans, nil
	}
	return o.rollbackIdle(ctx, eff, to, req, reason, forced)
}

// checkTarget says whether version may be rolled back to in env without
// force: it must have been stable there and never rolled back anywhere.
// With force it returns why force was needed, for the audit entry.
func (o *Orchestrator) checkTarget(ctx context.Context, service, env, version string, force bool) (string, error) {
	rej, err := o.d.Store.Rejections(ctx, service, version)
	if err != nil {
		return "", err
	}
	why := ""
	if len(rej) > 0 {
		why = fmt.Sprintf("%s was rolled back in %s (%s)", version, rej[len(rej)-1].Environment, rej[len(rej)-1].Reason)
	} else {
		hist, err := o.d.Store.StableHistory(ctx, service, env)
		if err != nil {
			return "", err
		}
		stable := false
		for _, h := range hist {
			stable = stable || h.Version == version
		}
		if !stable {
			why = fmt.Sprintf("%s was never stable in %s", version, env)
		}
	}
	if why != "" && !force {
		return "", errorf(ErrForce, "%s; roll back to it only with --force, or pick a version that was stable in %s (`belay history %s --env %s`)", why, env, service, env)
	}
	return why, nil
}

// rollbackIdle creates a rollback rollout of a service with no rollout in
// flight: to (default: the newest earlier stable version that was never
// rolled back) takes all traffic.
func (o *Orchestrator) rollbackIdle(ctx context.Context, eff *spec.Effective, to *target.Version, req api.RollbackRequest, reason, forced string) (api.RollbackAnswer, error) {
	svc, env := eff.ServiceName, eff.EnvName
	hist, err := o.d.Store.StableHistory(ctx, svc, env)
	if err != nil {
		return api.RollbackAnswer{}, err
	}
	if len(hist) == 0 {
		return api.RollbackAnswer{}, fmt.Errorf("%w: %s has never been deployed to %s", store.ErrNotFound, svc, env)
	}
	cur := hist[0]
	if to == nil {
		prev, err := o.earlierStable(ctx, hist)
		if err != nil {
			return api.RollbackAnswer{}, err
		}
		if prev == nil {
			return api.RollbackAnswer{}, errorf(ErrBadRequest, "%s in %s has no earlier stable version than %s that was never rolled back; name one with --to", svc, env, cur.Version)
		}
		v := runOf(eff, prev.Version, prev.Digest)
		to = &v
	}
	if to.Version == cur.Version {
		return api.RollbackAnswer{}, errorf(ErrBadRequest, "%s is already the stable version of %s in %s", cur.Version, svc, env)
	}
	action := "override.rollback"
	if forced != "" {
		action = "override.rollback.forced"
	}
	id, err := o.startRollback(ctx, eff, cur, *to, rollout.Command{Actor: req.Actor, Reason: reason, AcceptContract: req.AcceptContract}, action)
	if err != nil {
		return api.RollbackAnswer{}, err
	}
	return api.RollbackAnswer{Service: svc, Environment: env, From: cur.Version, To: to.Version, Rollout: id, Forced: forced}, nil
}

// earlierStable is the newest stable version in hist after its first that
// is not the current one and was never rolled back.
func (o *Orchestrator) earlierStable(ctx context.Context, hist []store.StableVersion) (*store.StableVersion, error) {
	for i := 1; i < len(hist); i++ {
		if hist[i].Version == hist[0].Version {
			continue
		}
		rej, err := o.d.Store.Rejections(ctx, hist[i].Service, hist[i].Version)
		if err != nil {
			return nil, err
		}
		if len(rej) == 0 {
			return &hist[i], nil
		}
	}
	return nil, nil
}

// startRollback stores a rollout of kind rollback from cur to to, with its
// audit entry and events in the same transaction. o.mu is held.
func (o *Orchestrator) startRollback(ctx context.Context, eff *spec.Effective, cur store.StableVersion, to target.Version, c rollout.Command, action string) (int64, error) {
	svc, env := eff.ServiceName, eff.EnvName
	if err := o.refuseBusy(ctx, svc, env); err != nil {
		return 0, err
	}
	plan, _ := json.Marshal(map[string]string{"kind": string(rollout.KindRollback), "from": cur.Version, "to": to.Version, "reason": c.Reason})
	now := o.d.Now().UTC()
	rel, err := o.d.Store.CreateRelease(ctx, store.Release{Service: svc, Version: cur.Version, Owner: c.Actor, Plan: plan, CreatedAt: now})
	if err != nil {
		return 0, err
	}
	cfg := rollout.Config{
		ID: "new", Release: strconv.FormatInt(rel.ID, 10), Service: svc, Environment: env,
		New:      runOf(eff, cur.Version, cur.Digest),
		Base:     baseOf(eff),
		Strategy: rollout.AllAtOnce, Owner: c.Actor,
	}
	var lines []string
	for _, a := range eff.Service.RollbackAction {
		lines = append(lines, a.String())
	}
	if cfg.RollbackSteps, err = rollbackSteps(lines); err != nil {
		return 0, err
	}
	st, evs, err := rollout.NewRollback(cfg, to, c, now)
	if err != nil {
		return 0, err
	}
	state, _ := json.Marshal(st)
	with := store.Effects{Audit: &store.AuditEntry{At: now, Actor: c.Actor, Action: action, Subject: "service/" + svc + "/" + env,
		Reason: fmt.Sprintf("%s → %s: %s", cur.Version, to.Version, c.Reason)}}
	for i, e := range evs {
		// The rollout has no ID before it is stored; its release's ID is unique.
		e.ID, e.Rollout = fmt.Sprintf("release/%d/rollback/%d", rel.ID, i), ""
		evs[i] = e
		b, _ := json.Marshal(e)
		with.Events = append(with.Events, b)
	}
	row, err := o.d.Store.CreateRollout(ctx, store.Rollout{ReleaseID: rel.ID, Service: svc, Environment: env, Version: cur.Version,
		RolloutState: store.RolloutState{Phase: string(st.Phase), State: state}, CreatedAt: now, UpdatedAt: now}, with)
	if err != nil {
		return 0, err
	}
	o.d.Published(ctx, evs)
	return row.ID, nil
}
