package dora

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/store"
)

// Records is what Load reads; a store.Store has it.
type Records interface {
	ListRollouts(ctx context.Context, f store.RolloutFilter) ([]store.Rollout, error)
	Transitions(ctx context.Context, rolloutID int64) ([]store.Transition, error)
	ListArtifacts(ctx context.Context, service string) ([]store.Artifact, error)
}

var _ Records = store.Store(nil)

// Load reads the rollouts of service (every service when "") in env that
// ended at or after from, as Compute takes them. It makes one query for
// the rollouts and one for the artifacts; only rollouts that ended
// RolledBack or Failed in the window have their transitions read (whether
// the new version was started, when it went bad), so the cost follows the
// failures in the window, not the history's length.
func Load(ctx context.Context, rec Records, service, env string, from time.Time) ([]Rollout, error) {
	rows, err := rec.ListRollouts(ctx, store.RolloutFilter{Service: service, Environment: env})
	if err != nil {
		return nil, fmt.Errorf("dora: %w", err)
	}
	arts, err := rec.ListArtifacts(ctx, service)
	if err != nil {
		return nil, fmt.Errorf("dora: %w", err)
	}
	built := make(map[string]time.Time, len(arts))
	for _, a := range arts {
		start := a.CommittedAt // the change's time, as DORA counts lead time
		if start.IsZero() {
			start = a.BuiltAt // recorded before belay kept commit times
		}
		built[a.Service+"\x00"+a.Version] = start
	}
	var out []Rollout
	for _, row := range rows {
		// A finished rollout's UpdatedAt is its last transition: the end.
		if !row.Terminal || row.UpdatedAt.Before(from) {
			continue
		}
		r := Rollout{ID: row.ID, Service: row.Service, Environment: row.Environment, Version: row.Version,
			Phase: rollout.Phase(row.Phase), Started: row.CreatedAt, Ended: row.UpdatedAt,
			Built: built[row.Service+"\x00"+row.Version]}
		if r.Phase == rollout.RolledBack || r.Phase == rollout.Failed {
			if err := failure(ctx, rec, row, &r); err != nil {
				return nil, err
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// failure fills in what a rollout that ended RolledBack or Failed needs:
// its kind, whether its version was started, and when it went bad.
func failure(ctx context.Context, rec Records, row store.Rollout, r *Rollout) error {
	var st struct {
		Kind rollout.Kind `json:"kind"`
	}
	if err := json.Unmarshal(row.State, &st); err != nil {
		return fmt.Errorf("dora: state of rollout %d: %w", row.ID, err)
	}
	r.Manual = st.Kind == rollout.KindRollback
	ts, err := rec.Transitions(ctx, row.ID)
	if err != nil {
		return fmt.Errorf("dora: %w", err)
	}
	for _, t := range ts {
		switch rollout.Phase(t.To) {
		case rollout.Deploying:
			r.Deployed = true
		case rollout.RollingBack:
			if r.WentBad.IsZero() {
				r.WentBad = t.At
			}
		}
	}
	if r.Manual && r.WentBad.IsZero() {
		r.WentBad = row.CreatedAt // created in RollingBack, with no transition into it
	}
	return nil
}
