package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/auth"
	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/infra"
	"github.com/belay-dev/belay/internal/infra/tofu"
	"github.com/belay-dev/belay/internal/orchestrate"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
)

// Infrastructure over the API (internal/infra): planning needs the
// deployer role in the environment, approving a plan the approver role,
// applying the deployer role, unlocking the admin role; drift is read by
// any token. The servers' administrator URLs are environment secrets the
// server reads; each plan, approval, apply, protected deletion and unlock
// is audited under the token's name.

func (s *Server) infraEngine() (*infra.Engine, error) {
	if s.d.Secrets == nil {
		return nil, fmt.Errorf("%w: this server keeps no secrets, and the stack's servers are reached with secrets", orchestrate.ErrBadRequest)
	}
	return &infra.Engine{Store: s.d.Store, Secrets: s.d.Secrets.Values, Now: s.d.Now}, nil
}

// infraErr maps the engine's errors to answers.
func infraErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, infra.ErrLocked), errors.Is(err, infra.ErrStale):
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	case errors.Is(err, infra.ErrPolicy):
		return fmt.Errorf("%w: %w", orchestrate.ErrPolicy, err)
	case errors.Is(err, infra.ErrNotApproved), errors.Is(err, infra.ErrProtected), errors.Is(err, infra.ErrInvalid):
		return fmt.Errorf("%w: %w", orchestrate.ErrBadRequest, err)
	}
	return err
}

// infraEnv checks the request's environment exists and that the caller may
// do a there; it returns belay.yaml as read for the check.
func (s *Server) infraEnv(r *http.Request, a auth.Action) (string, *spec.Project, error) {
	env := r.PathValue("env")
	p, err := s.Project()
	if err != nil {
		return "", nil, err
	}
	if p.Environment(env) == nil {
		return "", nil, fmt.Errorf("%w: environment %q is not defined in belay.yaml; defined: %v", store.ErrNotFound, env, p.EnvironmentNames())
	}
	return env, p, s.allow(r, a, env)
}

// infraSession is infraEnv with the engine that reaches the stack's servers.
func (s *Server) infraSession(r *http.Request, a auth.Action) (string, *spec.Project, *infra.Engine, error) {
	env, p, err := s.infraEnv(r, a)
	if err != nil {
		return "", nil, nil, err
	}
	e, err := s.infraEngine()
	return env, p, e, err
}

func (s *Server) postInfraPlan(r *http.Request) (any, error) {
	var req api.InfraPlanRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	env, p, e, err := s.infraSession(r, auth.Plan)
	if err != nil {
		return nil, err
	}
	tf, err := tofuPlan(req.Tofu)
	if err != nil {
		return nil, err
	}
	pl, err := e.Plan(r.Context(), p, env, identity(r).Name, tf)
	return pl, infraErr(err)
}

// tofuPlan parses the tofu plan a client sent (nil when none).
func tofuPlan(f *api.TofuPlanFile) (*tofu.Plan, error) {
	if f == nil {
		return nil, nil
	}
	tf, err := tofu.Parse(f.Source, f.JSON)
	if err != nil {
		return nil, fmt.Errorf("%w: tofu plan: %w", orchestrate.ErrBadRequest, err)
	}
	return tf, nil
}

func planID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: plan ID %q is not a positive number", orchestrate.ErrBadRequest, r.PathValue("id"))
	}
	return id, nil
}

func (s *Server) getInfraPlan(r *http.Request) (any, error) {
	id, err := planID(r)
	if err != nil {
		return nil, err
	}
	e := &infra.Engine{Store: s.d.Store}
	pl, sp, err := e.GetPlan(r.Context(), id)
	if err != nil {
		return nil, err
	}
	return pl, s.allow(r, auth.Read, sp.Environment)
}

func (s *Server) postInfraApprove(r *http.Request) (any, error) {
	var req api.InfraApproveRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	id, err := planID(r)
	if err != nil {
		return nil, err
	}
	sp, err := s.d.Store.GetInfraPlan(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if err := s.allow(r, auth.Approve, sp.Environment); err != nil {
		return nil, err
	}
	p, err := s.Project()
	if err != nil {
		return nil, err
	}
	var prot *spec.Protection
	if env := p.Environment(sp.Environment); env != nil {
		prot = env.Protection
	}
	e := &infra.Engine{Store: s.d.Store, Now: s.d.Now}
	sp, err = e.Approve(r.Context(), id, identity(r).Name, req.Reason, prot)
	if err != nil {
		return nil, infraErr(err)
	}
	pl, _, err := e.GetPlan(r.Context(), id)
	if err != nil {
		return nil, err
	}
	out := api.InfraApproved{ID: sp.ID, Environment: sp.Environment, Hash: sp.Hash, State: sp.State, ApprovedBy: sp.ApprovedBy, Approvals: sp.Approvals}
	if pl.Tofu != nil {
		out.TofuHash = pl.Tofu.Hash
	}
	return out, nil
}

func (s *Server) postInfraApply(r *http.Request) (any, error) {
	var req api.InfraApplyRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	id, err := planID(r)
	if err != nil {
		return nil, err
	}
	r.SetPathValue("env", req.Environment)
	env, p, e, err := s.infraSession(r, auth.Apply)
	if err != nil {
		return nil, err
	}
	tf, err := tofuPlan(req.Tofu)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	// The apply goes on if the client goes away (its timeout, a closed
	// terminal): stopping between two provider calls would leave a half-applied plan.
	out, err := e.Apply(context.WithoutCancel(r.Context()), p, env, id, infra.ApplyOptions{Actor: identity(r).Name, Reason: strings.TrimSpace(req.Reason),
		DeleteProtected: req.DeleteProtected, Holder: fmt.Sprintf("server %s pid %d", host, os.Getpid()), Tofu: tf})
	if err != nil {
		return nil, infraErr(err)
	}
	return out, nil
}

// getInfraDrift reports drift and writes nothing (a viewer may read it);
// postInfraDriftRecord records it.
func (s *Server) getInfraDrift(r *http.Request) (any, error) {
	env, p, e, err := s.infraSession(r, auth.Read)
	if err != nil {
		return nil, err
	}
	rep, err := e.Drift(r.Context(), p, env)
	return rep, infraErr(err)
}

// postInfraDriftRecord observes the environment's drift again and records
// what it observed, emitting an event per resource whose drift is new or
// resolved. The request's body is ignored: a report a client sends could
// say anything (its hash is the client's own to compute), so the client
// only asks for a record now.
func (s *Server) postInfraDriftRecord(r *http.Request) (any, error) {
	env, p, e, err := s.infraSession(r, auth.Plan)
	if err != nil {
		return nil, err
	}
	rep, err := e.Drift(r.Context(), p, env)
	if err != nil {
		return nil, infraErr(err)
	}
	return s.recordDrift(r.Context(), rep, identity(r).Name)
}

// recordDrift records rep and emits its events.
func (s *Server) recordDrift(ctx context.Context, rep infra.DriftReport, actor string) ([]infra.DriftChange, error) {
	e := &infra.Engine{Store: s.d.Store, Now: s.d.Now}
	changes, err := e.RecordDrift(ctx, rep)
	for _, c := range changes {
		ev := event.Event{Event: event.InfraDrift, Time: s.d.Now().UTC(), Environment: rep.Environment, Actor: actor}
		if c.Resolved {
			ev.Event, ev.Reason = event.InfraDriftResolved, fmt.Sprintf("%s/%s matches what belay applied again", c.Kind, c.Name)
		} else {
			var fs []string
			for _, d := range c.Drifts {
				fs = append(fs, fmt.Sprintf("%s expected %q found %q", d.Field, d.Expected, d.Found))
			}
			ev.Reason = fmt.Sprintf("%s/%s drifted: %s", c.Kind, c.Name, strings.Join(fs, "; "))
			ev.Evidence, _ = json.Marshal(c.Drifts)
		}
		ev.ID = fmt.Sprintf("drift/%s/%s/%s/%d", rep.Environment, c.Kind, c.Name, ev.Time.UnixNano())
		data, _ := json.Marshal(ev)
		if _, aerr := s.d.Store.AppendEvent(ctx, data, ev.Time); aerr != nil {
			return changes, fmt.Errorf("drift of %s recorded, its event not stored: %w", rep.Environment, aerr)
		}
		s.notify.wake()
	}
	if changes == nil {
		changes = []infra.DriftChange{}
	}
	return changes, infraErr(err)
}

// postInfraDriftAck acknowledges a resource's drift as it is now (approver
// role; audited): the release path lets it through until it changes.
func (s *Server) postInfraDriftAck(r *http.Request) (any, error) {
	var req api.InfraDriftAckRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	env, p, e, err := s.infraSession(r, auth.AckDrift)
	if err != nil {
		return nil, err
	}
	ds, err := e.AckDrift(r.Context(), p, env, strings.TrimSpace(req.Resource), identity(r).Name, strings.TrimSpace(req.Reason))
	if err != nil {
		return nil, infraErr(err)
	}
	return ds, nil
}

func (s *Server) postInfraUnlock(r *http.Request) (any, error) {
	var req api.InfraUnlockRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	env, _, err := s.infraEnv(r, auth.Unlock)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.Reason) == "" {
		return nil, fmt.Errorf("%w: unlocking needs a --reason, kept in the audit log", orchestrate.ErrBadRequest)
	}
	e := &infra.Engine{Store: s.d.Store, Now: s.d.Now}
	was, err := e.Unlock(r.Context(), env, identity(r).Name, req.Reason)
	if err != nil {
		return nil, err
	}
	return api.InfraUnlocked{Environment: env, Holder: was}, nil
}
