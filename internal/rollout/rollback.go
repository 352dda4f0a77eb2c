package rollout

import (
	"fmt"
	"time"

	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/target"
)

// NewRollback starts a rollout that only rolls back — `belay rollback
// <service> --env E [--to V]` after a release was promoted: cfg.New is the
// version serving now, cfg.Stable the one before it, to the version to
// return to. No verification, smoke tests or analysis: weights go to 100 %
// for to (the target starts it if it no longer runs) and the others stop.
// Persist the returned state with the store's create, with the returned
// events in the same transaction; the engine runs it.
func NewRollback(cfg Config, to target.Version, c Command, now time.Time) (State, []event.Event, error) {
	if cfg.Strategy == "" {
		cfg.Strategy = AllAtOnce
	}
	if to.Version == "" || to.Version == cfg.New.Version {
		return State{}, nil, fmt.Errorf("%w: %s: roll back to which version? %q is the one serving", ErrConfig, cfg.ID, to.Version)
	}
	if c.Actor == "" {
		return State{}, nil, fmt.Errorf("%w: %s: a rollback needs an actor", ErrConfig, cfg.ID)
	}
	if cfg.MigrationType == ContractMigration && !c.AcceptContract {
		return State{}, nil, fmt.Errorf("%w: %s ran a contract migration in %s; an older version may not work with the schema: "+
			"repeat with explicit acceptance of the contract migration", ErrContract, cfg.New.Version, cfg.Environment)
	}
	stable := cfg.Stable
	cfg.Stable = nil // validated below without "already stable" getting in the way
	s, err := New(cfg, now)
	if err != nil {
		return State{}, nil, err
	}
	s.Stable, s.Migrated = stable, cfg.MigrationType == ContractMigration
	s.RollbackTo = &to
	s.Kind = KindRollback
	c.Kind = CmdRollback
	next, _ := s.transit(RollingBack, now.UTC(), c.why(), nil, c.Actor)
	next.Seq = 0 // the store creates it; its first transition is Seq 1
	next, t := Record(s, next, Observation{Kind: Manual, Command: &c}, now)
	for i := range t.Events {
		t.Events[i].ID = fmt.Sprintf("%s/0/%d", next.ID, i)
	}
	return next, t.Events, nil
}
