package orchestrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/store"
)

// rolloutStore adapts the state store to the engine's Store: rollout IDs
// are the store's row IDs in decimal, the state is the engine's JSON, and
// each transition's effects — audit entry, events, stable version,
// rejection, the next environment's queue entry — go into the same store
// transaction as the state. finished, if set, hears of every rollout that
// ended.
type rolloutStore struct {
	o        *Orchestrator
	finished func(id string)
}

var _ rollout.Store = (*rolloutStore)(nil)

func (r *rolloutStore) Active(ctx context.Context) ([]rollout.State, error) {
	rows, err := r.o.d.Store.ListRollouts(ctx, store.RolloutFilter{Active: true})
	if err != nil {
		return nil, err
	}
	out := make([]rollout.State, 0, len(rows))
	for _, row := range rows {
		s, err := decodeState(row)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (r *rolloutStore) Get(ctx context.Context, id string) (rollout.State, error) {
	n, err := parseID(id)
	if err != nil {
		return rollout.State{}, err
	}
	row, err := r.o.d.Store.GetRollout(ctx, n)
	if errors.Is(err, store.ErrNotFound) {
		return rollout.State{}, fmt.Errorf("%w: %s", rollout.ErrNotFound, id)
	} else if err != nil {
		return rollout.State{}, err
	}
	return decodeState(row)
}

func (r *rolloutStore) Transition(ctx context.Context, id string, expectedSeq int64, next rollout.State, t rollout.Transition) error {
	n, err := parseID(id)
	if err != nil {
		return err
	}
	state, err := json.Marshal(next)
	if err != nil {
		return err
	}
	ev, err := json.Marshal(t)
	if err != nil {
		return err
	}
	eff, err := r.o.effects(n, next, t)
	if err != nil {
		return err
	}
	step := store.Step{At: t.At, Reason: t.Reason, Evidence: ev, Effects: eff}
	_, err = r.o.d.Store.Transition(ctx, n, expectedSeq, store.RolloutState{Phase: string(next.Phase), State: state, Terminal: !next.Active()}, step)
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%w: %v", rollout.ErrConflict, err)
	}
	if err != nil {
		return err
	}
	r.o.d.Published(ctx, t.Events)
	if !next.Active() && r.finished != nil {
		r.finished(id)
	}
	return nil
}

// effects are the records transition t of rollout id writes with it.
func (o *Orchestrator) effects(id int64, next rollout.State, t rollout.Transition) (store.Effects, error) {
	var eff store.Effects
	for _, e := range t.Events {
		b, err := json.Marshal(e)
		if err != nil {
			return eff, err
		}
		eff.Events = append(eff.Events, b)
	}
	if t.Override {
		eff.Audit = &store.AuditEntry{At: t.At, Actor: t.Actor, Action: "override." + string(t.Command),
			Subject: "rollout/" + strconv.FormatInt(id, 10), Reason: t.Reason}
	}
	if v := t.Stable; v != nil {
		eff.Stable = &store.StableVersion{Service: next.Service, Environment: next.Environment, Version: v.Version,
			Digest: v.Artifact, At: t.At, RolloutID: id}
	}
	if t.Rejected != "" {
		eff.Reject = &store.Rejection{Service: next.Service, Version: t.Rejected, Environment: next.Environment,
			RolloutID: id, Reason: next.Reason, At: t.At}
	}
	if t.To == rollout.Succeeded && t.From != rollout.Succeeded && next.Kind == rollout.KindRelease {
		q, err := o.nextEnvironment(next)
		if err != nil {
			return eff, err
		}
		eff.Enqueue = q
	}
	return eff, nil
}

// nextEnvironment is the queue entry that takes a release promoted in
// s.Environment to the next environment (nil after the last one). The
// engine's queue pump starts it as soon as that environment is free.
func (o *Orchestrator) nextEnvironment(s rollout.State) (*store.QueueEntry, error) {
	p, err := o.d.Project()
	if err != nil {
		return nil, fmt.Errorf("promote %s to the next environment: %w", s.New.Version, err)
	}
	next := p.Next(s.Environment)
	if next == nil {
		return nil, nil
	}
	rel, err := strconv.ParseInt(s.Release, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("rollout %s has no release id", s.ID)
	}
	return &store.QueueEntry{ReleaseID: rel, Service: s.Service, Environment: next.Name, Supersede: s.Supersede,
		Reason: fmt.Sprintf("%s promoted in %s", s.New.Version, s.Environment)}, nil
}

func decodeState(row store.Rollout) (rollout.State, error) {
	var s rollout.State
	if err := json.Unmarshal(row.State, &s); err != nil {
		return s, fmt.Errorf("rollout %d: stored state unreadable: %w", row.ID, err)
	}
	s.ID = strconv.FormatInt(row.ID, 10)
	s.Seq = row.Seq
	return s, nil
}

// ParseID parses the ID of what (a rollout, a release, a queue entry) as the
// API and the engine spell it: a positive decimal number.
func ParseID(what, id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%w: %s id %q is not a number: %s ids are whole numbers starting at 1", ErrMalformed, what, id, what)
	case n <= 0:
		return 0, fmt.Errorf("%w: %s ids start at 1, so there is no %s %d", store.ErrNotFound, what, what, n)
	}
	return n, nil
}

func parseID(id string) (int64, error) { return ParseID("rollout", id) }
