package orchestrate

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/release"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
)

// Release plans, validates and starts a release in its entry environment;
// each promotion queues it for the next one.
func (o *Orchestrator) Release(ctx context.Context, req api.ReleaseRequest) (api.ReleaseAnswer, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p, err := o.d.Project()
	if err != nil {
		return api.ReleaseAnswer{}, err
	}
	opts := release.Options{Owner: req.Owner, Actor: req.Actor, AllowContract: req.AllowContract, Reason: req.Reason, Supersede: req.Supersede, Adopt: req.Adopt, Now: o.d.Now()}
	if req.PlanYAML != "" {
		doc, err := spec.Parse("plan.yaml", []byte(req.PlanYAML))
		if err != nil {
			return api.ReleaseAnswer{}, errorf(ErrBadRequest, "%v", err)
		}
		if doc.ReleasePlan == nil {
			return api.ReleaseAnswer{}, errorf(ErrBadRequest, "the plan file holds a %s, not a release_plan", doc.Kind)
		}
		opts.From = doc.ReleasePlan
		req.Service, req.Version = doc.ReleasePlan.Service(), doc.ReleasePlan.Version.String()
	}
	env, err := o.entryEnvironment(ctx, p, req)
	if err != nil {
		return api.ReleaseAnswer{}, err
	}
	if err := o.refuseBusy(ctx, req.Service, env); err != nil {
		return api.ReleaseAnswer{}, err
	}
	opts.Start = env
	pl, err := release.New(ctx, p, o.d.Store, verifyOnly{o.d.Artifacts}, req.Service, req.Version, opts)
	if err != nil {
		return api.ReleaseAnswer{}, err
	}
	if err := o.checkRefs(ctx, p, env, pl.Version, pl.Digest); err != nil {
		return api.ReleaseAnswer{}, err
	}
	if err := o.checkMigrations(ctx, p, &pl, env); err != nil {
		return api.ReleaseAnswer{}, err
	}
	if pl.CI, err = o.ciOf(ctx, pl.Version); err != nil {
		return api.ReleaseAnswer{}, err
	}
	if len(pl.CI) > 0 {
		pl.Notes = append(pl.Notes, ciNote(pl.CI))
	}
	if err := o.checkCI(ctx, p, env, pl.Version); err != nil {
		return api.ReleaseAnswer{}, err
	}
	planJSON, _ := json.Marshal(pl)
	rel, err := o.d.Store.CreateRelease(ctx, store.Release{Service: pl.Service, Version: pl.Version, Owner: pl.Owner, Plan: planJSON, CreatedAt: o.d.Now().UTC()})
	if err != nil {
		return api.ReleaseAnswer{}, err
	}
	row, eff, err := o.newRollout(ctx, p, rel, pl, env)
	if err != nil {
		return api.ReleaseAnswer{}, err
	}
	row, err = o.d.Store.CreateRollout(ctx, row, eff)
	if err != nil {
		return api.ReleaseAnswer{}, err
	}
	return api.ReleaseAnswer{Release: rel.ID, Plan: pl, Rollout: row.ID, Env: env}, nil
}

// entryEnvironment is where a release starts: the first environment, or a
// later one whose predecessors already run the version as stable.
func (o *Orchestrator) entryEnvironment(ctx context.Context, p *spec.Project, req api.ReleaseRequest) (string, error) {
	names := p.EnvironmentNames()
	if req.Environment == "" || req.Environment == names[0] {
		return names[0], nil
	}
	if p.Environment(req.Environment) == nil {
		return "", errorf(ErrBadRequest, "unknown environment %q: belay.yaml defines %v", req.Environment, names)
	}
	for _, prev := range names {
		if prev == req.Environment {
			break
		}
		st, err := o.d.Store.Stable(ctx, req.Service, prev)
		if err != nil || st.Version != req.Version {
			have := "nothing"
			if err == nil {
				have = st.Version
			}
			return "", errorf(ErrOutOfOrder, "%s must succeed in %s before %s (stable in %s: %s)", req.Version, prev, req.Environment, prev, have)
		}
	}
	return req.Environment, nil
}

// refuseBusy refuses a second rollout of the same service and environment, naming the running one.
func (o *Orchestrator) refuseBusy(ctx context.Context, service, env string) error {
	rows, err := o.d.Store.ListRollouts(ctx, store.RolloutFilter{Active: true, Service: service, Environment: env})
	if err != nil || len(rows) == 0 {
		return err
	}
	r := rows[0]
	return fmt.Errorf("%w: rollout %d of %s is already running in %s (phase %s); wait for it, or `belay abort %d`", store.ErrConflict, r.ID, r.Version, env, r.Phase, r.ID)
}

// newRollout is the rollout of release rel in env, against the version a
// rollback there would return to now (never a rejected one).
func (o *Orchestrator) newRollout(ctx context.Context, p *spec.Project, rel store.Release, pl release.Plan, env string) (store.Rollout, store.Effects, error) {
	prev, _, err := release.PreviousStable(ctx, o.d.Store, pl.Service, env)
	if err != nil {
		return store.Rollout{}, store.Effects{}, err
	}
	view := planView{ReleaseID: strconv.FormatInt(rel.ID, 10), Service: pl.Service, Version: pl.Version, Digest: pl.Digest,
		MigrationType: pl.MigrationType, Owner: pl.Owner, RollbackAction: pl.RollbackAction}
	if pl.Adopt {
		view.AdoptedBy = cmp.Or(pl.Actor, pl.Owner, "unknown")
	}
	stableDigest := ""
	if prev != nil {
		view.PreviousStable, stableDigest = prev.Version, prev.Digest
	}
	cfg, err := rolloutConfig(p, view, env, stableDigest)
	if err != nil {
		return store.Rollout{}, store.Effects{}, err
	}
	if err := o.checkSecrets(env, cfg.New); err != nil {
		return store.Rollout{}, store.Effects{}, err
	}
	cfg.ID, cfg.Supersede = "new", pl.Supersede
	st, err := rollout.New(cfg, o.d.Now())
	if err != nil {
		return store.Rollout{}, store.Effects{}, err
	}
	state, _ := json.Marshal(st)
	return store.Rollout{ReleaseID: rel.ID, Service: pl.Service, Environment: env, Version: pl.Version,
		RolloutState: store.RolloutState{Phase: string(st.Phase), State: state}, CreatedAt: st.Created, UpdatedAt: st.Created}, store.Effects{}, nil
}

// Approve records an approval of a release in env and lets its waiting rollout go on.
func (o *Orchestrator) Approve(ctx context.Context, releaseID int64, env, actor, reason string) (rollout.State, error) {
	if actor == "" || env == "" {
		return rollout.State{}, errorf(ErrBadRequest, "an approval needs an actor and an environment")
	}
	rows, err := o.d.Store.ListRollouts(ctx, store.RolloutFilter{Active: true, Environment: env, Release: releaseID})
	if err != nil {
		return rollout.State{}, err
	}
	if len(rows) == 0 {
		return rollout.State{}, fmt.Errorf("%w: release %d has no rollout waiting in %s", store.ErrNotFound, releaseID, env)
	}
	prot, err := o.protection(env)
	if err != nil {
		return rollout.State{}, err
	}
	if err := o.mayApprove(ctx, releaseID, env, actor, prot); err != nil {
		return rollout.State{}, err
	}
	if err := o.d.Store.Approve(ctx, store.Approval{ReleaseID: releaseID, Environment: env, Actor: actor, Reason: reason, At: o.d.Now().UTC()}); err != nil {
		return rollout.State{}, err
	}
	id := strconv.FormatInt(rows[0].ID, 10)
	as, err := o.d.Store.Approvals(ctx, releaseID, env)
	if err != nil {
		return rollout.State{}, err
	}
	if need := prot.RequiredApprovals(); len(as) < need {
		st, err := (&rolloutStore{o: o}).Get(ctx, id)
		if err == nil {
			st.Reason = fmt.Sprintf("%d of %d approvals (%s); waiting for %d more", len(as), need, approvers(as), need-len(as))
		}
		return st, err
	}
	return o.engine.Command(ctx, id, rollout.Command{Kind: rollout.CmdApprove, Actor: actor, Reason: reason})
}

// protection is env's protection block in belay.yaml as it is now.
func (o *Orchestrator) protection(env string) (*spec.Protection, error) {
	p, err := o.d.Project()
	if err != nil {
		return nil, err
	}
	e := p.Environment(env)
	if e == nil {
		return nil, errorf(ErrBadRequest, "environment %q is not in belay.yaml", env)
	}
	return e.Protection, nil
}

// mayApprove applies env's protection to an approval by actor: a listed
// approver, and not the one who asked for the release unless allowed.
func (o *Orchestrator) mayApprove(ctx context.Context, releaseID int64, env, actor string, prot *spec.Protection) error {
	if prot == nil {
		return nil
	}
	if len(prot.Approvers) > 0 && !slices.Contains(prot.Approvers, actor) {
		return fmt.Errorf("%w: %s is not one of %s's approvers (%s)", ErrPolicy, actor, env, strings.Join(prot.Approvers, ", "))
	}
	if prot.AllowSelfApproval {
		return nil
	}
	rel, err := o.d.Store.GetRelease(ctx, releaseID)
	if err != nil {
		return err
	}
	var plan struct {
		Actor string `json:"actor"`
	}
	_ = json.Unmarshal(rel.Plan, &plan)
	if plan.Actor == actor {
		return fmt.Errorf("%w: %s asked for release %d and may not approve it too; another approver must (protection.allow_self_approval: true would allow it)",
			ErrPolicy, actor, releaseID)
	}
	return nil
}

func approvers(as []store.Approval) string {
	var names []string
	for _, a := range as {
		names = append(names, a.Actor)
	}
	return strings.Join(names, ", ")
}

// verifyOnly narrows Artifacts to the release package's Verifier.
type verifyOnly struct{ a Artifacts }

func (v verifyOnly) Verify(ctx context.Context, version string) (string, error) {
	return v.a.Verify(ctx, version)
}
