package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/release"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/target"
)

// Errors the API maps to HTTP statuses.
var (
	ErrBadRequest     = errors.New("bad request")
	ErrOutOfOrder     = errors.New("environment out of order")
	errAlreadyStarted = errors.New("rollout already started")
)

// ReleaseRequest asks for a release of a version.
type ReleaseRequest struct {
	Service       string `json:"service"`
	Version       string `json:"version"`
	Owner         string `json:"owner"`
	AllowContract bool   `json:"allow_contract,omitempty"`
	Reason        string `json:"reason,omitempty"`
	// Environment starts the release there instead of the first environment;
	// every earlier environment must already run this version as stable.
	Environment string `json:"environment,omitempty"`
	// PlanYAML is a plan file in the seed's shape (belay release -f plan.yaml).
	PlanYAML string `json:"plan_yaml,omitempty"`
}

// ReleaseAnswer is a created release and its first rollout.
type ReleaseAnswer struct {
	Release int64        `json:"release"`
	Plan    release.Plan `json:"plan"`
	Rollout int64        `json:"rollout"`
	Env     string       `json:"environment"`
}

// CreateRelease plans, validates and starts a release.
func (s *Server) CreateRelease(ctx context.Context, req ReleaseRequest) (ReleaseAnswer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.Project()
	if err != nil {
		return ReleaseAnswer{}, err
	}
	opts := release.Options{Owner: req.Owner, AllowContract: req.AllowContract, Reason: req.Reason, Now: s.d.Now()}
	if req.PlanYAML != "" {
		doc, err := spec.Parse("plan.yaml", []byte(req.PlanYAML))
		if err != nil {
			return ReleaseAnswer{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
		if doc.ReleasePlan == nil {
			return ReleaseAnswer{}, fmt.Errorf("%w: the plan file holds a %s, not a release_plan", ErrBadRequest, doc.Kind)
		}
		opts.From = doc.ReleasePlan
		req.Service, req.Version = doc.ReleasePlan.Service(), doc.ReleasePlan.Version.String()
	}
	env, err := s.entryEnvironment(ctx, p, req)
	if err != nil {
		return ReleaseAnswer{}, err
	}
	if err := s.refuseBusy(ctx, req.Service, env); err != nil {
		return ReleaseAnswer{}, err
	}
	opts.Start = env
	pl, err := release.New(ctx, p, s.d.Store, verifyOnly{s.d.Artifacts}, req.Service, req.Version, opts)
	if err != nil {
		return ReleaseAnswer{}, err
	}
	planJSON, _ := json.Marshal(pl)
	rel, err := s.d.Store.CreateRelease(ctx, store.Release{Service: pl.Service, Version: pl.Version, Owner: pl.Owner, Plan: planJSON, CreatedAt: s.d.Now().UTC()})
	if err != nil {
		return ReleaseAnswer{}, err
	}
	id, err := s.startRollout(ctx, p, rel, pl, env)
	if err != nil {
		return ReleaseAnswer{}, err
	}
	return ReleaseAnswer{Release: rel.ID, Plan: pl, Rollout: id, Env: env}, nil
}

// entryEnvironment is where a release starts: the first environment, or a
// later one whose predecessors already run the version as stable.
func (s *Server) entryEnvironment(ctx context.Context, p *spec.Project, req ReleaseRequest) (string, error) {
	names := p.EnvironmentNames()
	if req.Environment == "" || req.Environment == names[0] {
		return names[0], nil
	}
	if p.Environment(req.Environment) == nil {
		return "", fmt.Errorf("%w: unknown environment %q: belay.yaml defines %v", ErrBadRequest, req.Environment, names)
	}
	for _, prev := range names {
		if prev == req.Environment {
			break
		}
		st, err := s.d.Store.Stable(ctx, req.Service, prev)
		if err != nil || st.Version != req.Version {
			have := "nothing"
			if err == nil {
				have = st.Version
			}
			return "", fmt.Errorf("%w: %s must succeed in %s before %s (stable in %s: %s)", ErrOutOfOrder, req.Version, prev, req.Environment, prev, have)
		}
	}
	return req.Environment, nil
}

// refuseBusy refuses a second rollout of the same service and environment, naming the running one.
func (s *Server) refuseBusy(ctx context.Context, service, env string) error {
	rows, err := s.d.Store.ListRollouts(ctx, store.RolloutFilter{Active: true, Service: service, Environment: env})
	if err != nil || len(rows) == 0 {
		return err
	}
	r := rows[0]
	return fmt.Errorf("%w: rollout %d of %s is already running in %s (phase %s); wait for it, or `belay abort %d`", store.ErrConflict, r.ID, r.Version, env, r.Phase, r.ID)
}

// startRollout creates the release's rollout in env.
func (s *Server) startRollout(ctx context.Context, p *spec.Project, rel store.Release, pl release.Plan, env string) (int64, error) {
	view := planView{ReleaseID: strconv.FormatInt(rel.ID, 10), Service: pl.Service, Version: pl.Version, Digest: pl.Digest, MigrationType: pl.MigrationType, Owner: pl.Owner, PreviousStable: pl.PreviousStable}
	stableDigest := ""
	if prev := pl.PreviousStable[env]; prev != "" {
		if st, err := s.d.Store.Stable(ctx, pl.Service, env); err == nil {
			stableDigest = st.Digest
		}
	}
	cfg, err := rolloutConfig(p, view, env, stableDigest)
	if err != nil {
		return 0, err
	}
	cfg.ID = "new"
	st, err := rollout.New(cfg, s.d.Now())
	if err != nil {
		return 0, err
	}
	state, _ := json.Marshal(st)
	row, err := s.d.Store.CreateRollout(ctx, store.Rollout{ReleaseID: rel.ID, Service: pl.Service, Environment: env, Version: pl.Version,
		RolloutState: store.RolloutState{Phase: string(st.Phase), State: state}, CreatedAt: st.Created, UpdatedAt: st.Created}, store.Effects{})
	if err != nil {
		return 0, err
	}
	return row.ID, nil
}

// promoteToNext starts the release of st in the environment after st's.
func (s *Server) promoteToNext(ctx context.Context, st rollout.State) error {
	p, err := s.Project()
	if err != nil {
		return err
	}
	next := p.Next(st.Environment)
	if next == nil {
		return nil
	}
	relID, err := strconv.ParseInt(st.Release, 10, 64)
	if err != nil {
		return fmt.Errorf("rollout %s has no release id", st.ID)
	}
	hist, err := s.d.Store.History(ctx, st.Service, next.Name)
	if err != nil {
		return err
	}
	for _, h := range hist {
		if h.ReleaseID == relID {
			return errAlreadyStarted
		}
	}
	rel, err := s.d.Store.GetRelease(ctx, relID)
	if err != nil {
		return err
	}
	var pl release.Plan
	if err := json.Unmarshal(rel.Plan, &pl); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refuseBusy(ctx, st.Service, next.Name); err != nil {
		return err
	}
	_, err = s.startRollout(ctx, p, rel, pl, next.Name)
	return err
}

// Command sends a person's command to a rollout.
func (s *Server) Command(ctx context.Context, id string, c rollout.Command) (rollout.State, error) {
	if c.Actor == "" {
		return rollout.State{}, fmt.Errorf("%w: a command needs an actor", ErrBadRequest)
	}
	return s.engine.Command(ctx, id, c)
}

// Approve records an approval of a release in env and lets its waiting rollout go on.
func (s *Server) Approve(ctx context.Context, releaseID int64, env, actor, reason string) (rollout.State, error) {
	rows, err := s.d.Store.ListRollouts(ctx, store.RolloutFilter{Active: true, Environment: env})
	if err != nil {
		return rollout.State{}, err
	}
	for _, r := range rows {
		if r.ReleaseID != releaseID {
			continue
		}
		if err := s.d.Store.Approve(ctx, store.Approval{ReleaseID: releaseID, Environment: env, Actor: actor, Reason: reason, At: s.d.Now().UTC()}); err != nil {
			return rollout.State{}, err
		}
		return s.engine.Command(ctx, strconv.FormatInt(r.ID, 10), rollout.Command{Kind: rollout.CmdApprove, Actor: actor, Reason: reason})
	}
	return rollout.State{}, fmt.Errorf("%w: release %d has no rollout waiting in %s", store.ErrNotFound, releaseID, env)
}

// verifyOnly narrows Artifacts to the release package's Verifier.
type verifyOnly struct{ a Artifacts }

func (v verifyOnly) Verify(ctx context.Context, version string) (string, error) {
	return v.a.Verify(ctx, version)
}

// eventFor is an event about st in the seed's shape.
func eventFor(st rollout.State, kind, reason string) event.Event {
	e := event.Event{Event: kind, Service: st.Service, Version: st.New.Version, Environment: st.Environment,
		Release: st.Release, Rollout: st.ID, Phase: string(st.Phase), Reason: reason}
	if st.Stable != nil {
		e.PreviousStable = st.Stable.Version
	}
	return e
}

// Rollback is the fast path: the target version takes 100 % at once (it is
// started first if it no longer runs), without analysis; an active rollout
// of the service in env is rolled back through the engine instead.
func (s *Server) Rollback(ctx context.Context, req RollbackRequest) (any, error) {
	service, env, to, actor, reason := req.Service, req.Env, req.To, req.Actor, req.Reason
	if actor == "" || reason == "" {
		return nil, fmt.Errorf("%w: a rollback needs an actor and a reason", ErrBadRequest)
	}
	p, err := s.Project()
	if err != nil {
		return nil, err
	}
	eff, err := p.Effective(service, env)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	var toVersion *target.Version
	if to != "" {
		digest, err := s.d.Artifacts.Verify(ctx, to)
		if err != nil {
			return nil, fmt.Errorf("%w: cannot roll back to %s: %v", ErrBadRequest, to, err)
		}
		v := runOf(eff, to, digest)
		toVersion = &v
	}
	rows, err := s.d.Store.ListRollouts(ctx, store.RolloutFilter{Active: true, Service: service, Environment: env})
	if err != nil {
		return nil, err
	}
	if len(rows) > 0 {
		return s.engine.Command(ctx, strconv.FormatInt(rows[0].ID, 10), rollout.Command{Kind: rollout.CmdRollback, Actor: actor, Reason: reason, To: toVersion, AcceptContract: req.AcceptContract})
	}
	return s.rollbackIdle(ctx, eff, toVersion, actor, reason)
}
