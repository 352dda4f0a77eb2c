package flag

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
)

// Op is a change of a flag's override.
type Op string

// Ops: Set pins a variant, Disable and Enable set the state (each keeping
// the other half of the override), Reset removes the override.
const (
	Set     Op = "set"
	Disable Op = "disable"
	Enable  Op = "enable"
	Reset   Op = "reset"
)

// Ops lists the ops.
var Ops = []Op{Set, Disable, Enable, Reset}

// Change is a request to change flag Flag in Environment.
type Change struct {
	Environment, Flag string
	Op                Op
	Variant           string // Set's
	Actor             string // a token's name, or "rollout/N" for a rollback action
	Reason            string // required
	// A rollback's change names its rollout (then its event's ID is the
	// same each time the rollback is re-run), release and service, so that
	// it shows in the release's timeline.
	Rollout, Release, Service string
}

// Changed is what a change did.
type Changed struct {
	Action        string  // the audit action, flag.<op>
	Before, After Setting // as served
	Flag          Resolved
	Events        []event.Event // stored with the change, for the caller to publish
}

// changeDetail is a flag change's audit detail.
type changeDetail struct {
	Environment string    `json:"environment"`
	Flag        string    `json:"flag"`
	Before      Setting   `json:"before"`
	After       Setting   `json:"after"`
	Override    *Override `json:"override,omitempty"` // the override now stored; none after a reset
	Problem     string    `json:"problem,omitempty"`
}

// Change checks c against belay.yaml (p) and the stored overrides, and
// stores the new override with its audit entry and a flag_changed event.
// A change that changes nothing (enabling an enabled flag) is still
// stored and audited: someone asked for it.
func (s *Service) Change(ctx context.Context, p *spec.Project, c Change) (Changed, error) {
	if err := c.check(); err != nil {
		return Changed{}, err
	}
	flags, orphans, err := s.View(ctx, p, c.Environment)
	if err != nil {
		return Changed{}, err
	}
	now := s.Now().UTC()
	r, defined := flags[c.Flag]
	if !defined {
		r, err = orphan(p, c, orphans)
		if err != nil {
			return Changed{}, err
		}
	}
	next, err := c.override(r, now)
	if err != nil {
		return Changed{}, err
	}
	after := Resolved{Key: c.Flag}
	if defined {
		after = resolve(c.Flag, r.File, next)
	}
	ch := Changed{Action: "flag." + string(c.Op), Before: SettingOf(r.Flag), After: SettingOf(after.Flag), Flag: after}
	if !defined { // an orphan: what it pinned, and nothing after
		ch.Before, ch.After = Setting{State: r.Override.State, Variant: r.Override.Variant}, Setting{}
	}
	detail, err := json.Marshal(changeDetail{Environment: c.Environment, Flag: c.Flag, Before: ch.Before, After: ch.After,
		Override: next, Problem: after.Problem})
	if err != nil {
		return Changed{}, err
	}
	audit := store.AuditEntry{At: now, Actor: c.Actor, Action: ch.Action, Subject: "flag/" + c.Environment + "/" + c.Flag,
		Reason: c.Reason, Detail: detail}
	evidence, _ := json.Marshal(struct{ Before, After Setting }{ch.Before, ch.After})
	id := fmt.Sprintf("flag/%s/%s/%d", c.Environment, c.Flag, now.UnixNano())
	if c.Rollout != "" {
		id = fmt.Sprintf("rollout/%s/flag/%s", c.Rollout, c.Flag)
	}
	ch.Events = []event.Event{{ID: id, Event: event.FlagChanged, Time: now, Environment: c.Environment, Flag: c.Flag,
		Actor: c.Actor, Reason: c.Reason, Evidence: evidence, Rollout: c.Rollout, Release: c.Release, Service: c.Service}}
	if next == nil {
		err = s.Store.ClearFlagOverride(ctx, c.Environment, c.Flag, audit, ch.Events)
	} else {
		err = s.Store.SetFlagOverride(ctx, next.stored(), audit, ch.Events)
	}
	if err != nil {
		return Changed{}, err
	}
	return ch, nil
}

func (c Change) check() error {
	switch c.Op {
	case Set:
		if c.Variant == "" {
			return fmt.Errorf("%w: set needs a variant: belay flags set %s VARIANT", ErrBadChange, c.Flag)
		}
	case Disable, Enable, Reset:
		if c.Variant != "" {
			return fmt.Errorf("%w: %s takes no variant (%q); to pin one use set", ErrBadChange, c.Op, c.Variant)
		}
	default:
		return fmt.Errorf("%w: unknown change %q: use set, disable, enable or reset", ErrBadChange, c.Op)
	}
	if c.Actor == "" {
		return fmt.Errorf("%w: a flag change needs an actor", ErrBadChange)
	}
	if strings.TrimSpace(c.Reason) == "" {
		return fmt.Errorf("%w: %s of flag %s in %s needs a reason (--reason): it is kept in the audit trail",
			ErrBadChange, c.Op, c.Flag, c.Environment)
	}
	return nil
}

// orphan is the override of a flag belay.yaml no longer defines, which
// only a reset may change.
func orphan(p *spec.Project, c Change, orphans []Override) (Resolved, error) {
	for _, o := range orphans {
		if o.Flag == c.Flag && c.Op == Reset {
			return Resolved{Key: c.Flag, Override: &o}, nil
		}
	}
	return Resolved{}, UnknownFlag(p, c.Flag)
}

// UnknownFlag is the error for a flag key p does not define.
func UnknownFlag(p *spec.Project, key string) error {
	return fmt.Errorf("%w: flag %q is not defined in belay.yaml's flags: block%s; defined: %s",
		ErrUndefined, key, spec.Suggest(key, p.FlagKeys()), strings.Join(p.FlagKeys(), ", "))
}

// override is the override c leaves on r (nil: none).
func (c Change) override(r Resolved, now time.Time) (*Override, error) {
	if c.Op == Reset {
		return nil, nil
	}
	next := Override{Environment: c.Environment, Flag: c.Flag, Actor: c.Actor, Reason: c.Reason, At: now}
	if o := r.Override; o != nil {
		next.State, next.Variant = o.State, o.Variant
	}
	switch c.Op {
	case Set:
		if _, ok := r.File.Variants[c.Variant]; !ok {
			return nil, fmt.Errorf("%w: variant %q is not one of flag %s's variants: %s", ErrBadChange, c.Variant, c.Flag,
				strings.Join(r.File.Variants.Names(), ", "))
		}
		next.Variant = c.Variant
	case Disable:
		next.State = spec.FlagDisabled
	case Enable:
		next.State = spec.FlagEnabled
	}
	return &next, nil
}
