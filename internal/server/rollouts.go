package server

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
// are the store's row IDs in decimal, the state is the engine's JSON.
// finished, if set, hears of every rollout that reached a terminal state.
type rolloutStore struct {
	st       store.Store
	finished func(id string)
}

var _ rollout.Store = rolloutStore{}

func (r rolloutStore) Active(ctx context.Context) ([]rollout.State, error) {
	rows, err := r.st.ListRollouts(ctx, store.RolloutFilter{Active: true})
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

func (r rolloutStore) Get(ctx context.Context, id string) (rollout.State, error) {
	n, err := parseID(id)
	if err != nil {
		return rollout.State{}, err
	}
	row, err := r.st.GetRollout(ctx, n)
	if errors.Is(err, store.ErrNotFound) {
		return rollout.State{}, fmt.Errorf("%w: %s", rollout.ErrNotFound, id)
	} else if err != nil {
		return rollout.State{}, err
	}
	return decodeState(row)
}

func (r rolloutStore) Transition(ctx context.Context, id string, expectedSeq int64, next rollout.State, t rollout.Transition) error {
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
	step := store.Step{At: t.At, Reason: t.Reason, Evidence: ev}
	if t.Override {
		step.Audit = &store.AuditEntry{At: t.At, Actor: t.Actor, Action: "override." + string(t.Command), Subject: "rollout/" + id, Reason: t.Reason}
	}
	_, err = r.st.Transition(ctx, n, expectedSeq, store.RolloutState{Phase: string(next.Phase), State: state, Terminal: !next.Active()}, step)
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%w: %v", rollout.ErrConflict, err)
	}
	if err == nil && !next.Active() && r.finished != nil {
		r.finished(id)
	}
	return err
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

func parseID(id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%w: rollout id %q is not a number", rollout.ErrNotFound, id)
	}
	return n, nil
}
