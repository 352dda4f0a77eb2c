package flag

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/open"
)

const flagsYAML = `
project: shop
services:
  api:
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger: ["error_rate > 1% for 5m"]
    rollback_action: [disable_flag banner, deploy previous_stable]
flags:
  checkout_v2:
    kind: kill_switch
    variants: {on: true, off: false}
    defaultVariant: on
  banner:
    variants: {blue: "#00f", red: "#f00", green: "#0f0"}
    defaultVariant: blue
    targeting: {fractional: [[blue, 50], [red, 50]]}
environments:
  - name: staging
    flags:
      checkout_v2: {state: DISABLED}
  - name: production
`

func project(t *testing.T, yaml string) *spec.Project {
	t.Helper()
	p, err := spec.ParseProject("belay.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// service is a flag service over a real SQLite store, its clock at t0
// and moving a second per change.
func service(t *testing.T) (*Service, store.Store) {
	t.Helper()
	st, err := open.Open(context.Background(), "", t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC)
	return &Service{Store: st, Now: func() time.Time { now = now.Add(time.Second); return now }}, st
}

func change(env, key string, op Op, variant string) Change {
	return Change{Environment: env, Flag: key, Op: op, Variant: variant, Actor: "alice", Reason: "incident 42"}
}

// Each change leaves the override it says, the flag serves it, and the
// audit entry and event record before and after; reset serves belay.yaml
// again.
func TestChangeAppliesAndAudits(t *testing.T) {
	ctx := context.Background()
	s, st := service(t)
	p := project(t, flagsYAML)
	steps := []struct {
		c             Change
		before, after Setting
		override      *Override
	}{
		{change("production", "checkout_v2", Disable, ""), Setting{State: "ENABLED", Variant: "on"}, Setting{State: "DISABLED", Variant: "on"},
			&Override{State: spec.FlagDisabled}},
		{change("production", "checkout_v2", Set, "off"), Setting{State: "DISABLED", Variant: "on"}, Setting{State: "DISABLED", Variant: "off"},
			&Override{State: spec.FlagDisabled, Variant: "off"}},
		{change("production", "checkout_v2", Enable, ""), Setting{State: "DISABLED", Variant: "off"}, Setting{State: "ENABLED", Variant: "off"},
			&Override{State: spec.FlagEnabled, Variant: "off"}},
		{change("production", "checkout_v2", Enable, ""), Setting{State: "ENABLED", Variant: "off"}, Setting{State: "ENABLED", Variant: "off"},
			&Override{State: spec.FlagEnabled, Variant: "off"}}, // enabling an enabled flag is fine
		{change("production", "banner", Set, "green"), Setting{State: "ENABLED", Split: true}, Setting{State: "ENABLED", Variant: "green"},
			&Override{Variant: "green"}},
		{change("production", "checkout_v2", Reset, ""), Setting{State: "ENABLED", Variant: "off"}, Setting{State: "ENABLED", Variant: "on"}, nil},
		{change("staging", "checkout_v2", Enable, ""), Setting{State: "DISABLED", Variant: "on"}, Setting{State: "ENABLED", Variant: "on"},
			&Override{State: spec.FlagEnabled}},
	}
	for i, step := range steps {
		ch, err := s.Change(ctx, p, step.c)
		if err != nil {
			t.Fatalf("step %d (%s %s): %v", i, step.c.Op, step.c.Flag, err)
		}
		if ch.Before != step.before || ch.After != step.after || ch.Action != "flag."+string(step.c.Op) {
			t.Errorf("step %d: %s %v → %v, want %v → %v", i, ch.Action, ch.Before, ch.After, step.before, step.after)
		}
		flags, err := s.Effective(ctx, p, step.c.Environment)
		if err != nil {
			t.Fatal(err)
		}
		r := flags[step.c.Flag]
		if got := SettingOf(r.Flag); got != step.after {
			t.Errorf("step %d: served %v, want %v", i, got, step.after)
		}
		if got := overrideHalf(r.Override); !reflect.DeepEqual(got, step.override) {
			t.Errorf("step %d: override %+v, want %+v", i, got, step.override)
		}
	}
	audit, err := st.AuditSince(ctx, 0, 100)
	if err != nil || len(audit) != len(steps) {
		t.Fatalf("audit: %d entries (%v), want %d", len(audit), err, len(steps))
	}
	a := audit[0]
	if a.Actor != "alice" || a.Action != "flag.disable" || a.Subject != "flag/production/checkout_v2" || a.Reason != "incident 42" {
		t.Errorf("first audit entry: %+v", a)
	}
	if want := `{"environment":"production","flag":"checkout_v2","before":{"state":"ENABLED","variant":"on"},` +
		`"after":{"state":"DISABLED","variant":"on"},"override":{"environment":"production","flag":"checkout_v2",` +
		`"state":"DISABLED","actor":"alice","reason":"incident 42","at":"2026-05-12T10:00:01Z"}}`; string(a.Detail) != want {
		t.Errorf("detail:\n%s\nwant\n%s", a.Detail, want)
	}
	if reset := audit[5]; reset.Action != "flag.reset" || !strings.Contains(string(reset.Detail), `"after":{"state":"ENABLED","variant":"on"}`) ||
		strings.Contains(string(reset.Detail), `"override"`) {
		t.Errorf("reset entry: %+v %s", reset, reset.Detail)
	}
	evs, err := st.EventsSince(ctx, 0, 100)
	if err != nil || len(evs) != len(steps) {
		t.Fatalf("events: %d (%v), want %d", len(evs), err, len(steps))
	}
	var ev struct {
		ID, Event, Environment, Flag, Actor, Reason string
		Evidence                                    struct{ Before, After Setting }
	}
	if err := json.Unmarshal(evs[4].Data, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Event != "flag_changed" || ev.Flag != "banner" || ev.Environment != "production" || ev.Actor != "alice" || ev.ID == "" ||
		ev.Evidence.After.Variant != "green" || !ev.Evidence.Before.Split {
		t.Errorf("event: %s", evs[4].Data)
	}
}

// overrideHalf is o's state and variant only.
func overrideHalf(o *Override) *Override {
	if o == nil {
		return nil
	}
	return &Override{State: o.State, Variant: o.Variant}
}

// Bad changes are refused saying what is wrong and what exists, and
// change nothing.
func TestChangeRefused(t *testing.T) {
	ctx := context.Background()
	s, st := service(t)
	p := project(t, flagsYAML)
	noReason := change("production", "checkout_v2", Disable, "")
	noReason.Reason = "  "
	for _, c := range []struct {
		name   string
		c      Change
		target error
		want   string
	}{
		{"unknown environment", change("prod", "checkout_v2", Disable, ""), ErrUndefined,
			`environment "prod" is not defined in belay.yaml; defined: staging, production`},
		{"unknown flag", change("production", "checkout_v3", Disable, ""), ErrUndefined,
			`flag "checkout_v3" is not defined in belay.yaml's flags: block (did you mean "checkout_v2"?); defined: banner, checkout_v2`},
		{"bad variant", change("production", "checkout_v2", Set, "maybe"), ErrBadChange, `variant "maybe" is not one of flag checkout_v2's variants: off, on`},
		{"no variant", change("production", "checkout_v2", Set, ""), ErrBadChange, "set needs a variant"},
		{"variant to disable", change("production", "checkout_v2", Disable, "off"), ErrBadChange, `disable takes no variant ("off")`},
		{"no reason", noReason, ErrBadChange, "disable of flag checkout_v2 in production needs a reason (--reason)"},
		{"unknown op", change("production", "checkout_v2", "toggle", ""), ErrBadChange, `unknown change "toggle": use set, disable, enable or reset`},
		{"reset unknown flag", change("production", "nope", Reset, ""), ErrUndefined, `flag "nope" is not defined`},
	} {
		_, err := s.Change(ctx, p, c.c)
		if !errors.Is(err, c.target) || err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want %v saying %q", c.name, err, c.target, c.want)
		}
	}
	if os, _ := st.FlagOverrides(ctx, ""); len(os) != 0 {
		t.Errorf("refused changes stored %+v", os)
	}
	if a, _ := st.AuditSince(ctx, 0, 10); len(a) != 0 {
		t.Errorf("refused changes audited %+v", a)
	}
}

// belay.yaml edited under an override: the override still wins; a pinned
// variant that was removed serves the flag DISABLED, saying why; an
// override of a removed flag is kept apart and only a reset clears it.
func TestOverridesOutliveEdits(t *testing.T) {
	ctx := context.Background()
	s, _ := service(t)
	p := project(t, flagsYAML)
	for _, c := range []Change{change("production", "checkout_v2", Set, "off"), change("production", "banner", Disable, ""),
		change("staging", "banner", Set, "green")} {
		if _, err := s.Change(ctx, p, c); err != nil {
			t.Fatal(err)
		}
	}
	edited := strings.Replace(flagsYAML, "defaultVariant: on", "defaultVariant: off", 1) // checkout_v2 now off by default
	edited = strings.Replace(edited, `variants: {blue: "#00f", red: "#f00", green: "#0f0"}`, `variants: {blue: "#00f", red: "#f00"}`, 1)
	edited = strings.Replace(edited, "  checkout_v2:\n    kind: kill_switch", "  checkout_v3:\n    kind: kill_switch", 1)
	edited = strings.Replace(edited, "checkout_v2: {state: DISABLED}", "checkout_v3: {state: DISABLED}", 1)
	p2 := project(t, edited)

	prod, orphans, err := s.View(ctx, p2, "production")
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 1 || orphans[0].Flag != "checkout_v2" || orphans[0].Variant != "off" {
		t.Errorf("orphans: %+v, want production's override of checkout_v2", orphans)
	}
	if b := prod["banner"]; b.Flag.State != spec.FlagDisabled || b.Problem != "" || len(b.Differences()) != 1 {
		t.Errorf("banner in production: %+v", b)
	}
	staging, _, err := s.View(ctx, p2, "staging")
	if err != nil {
		t.Fatal(err)
	}
	b := staging["banner"]
	if b.Flag.State != spec.FlagDisabled || !strings.Contains(b.Problem, `pins variant "green", which belay.yaml no longer defines (variants: blue, red)`) {
		t.Errorf("a pin of a removed variant must serve DISABLED and say why: %+v", b)
	}
	if ev, _ := Evaluate("banner", b.Flag, "u1", true); ev.Reason != ReasonDisabled || ev.Value != nil {
		t.Errorf("evaluated: %+v", ev)
	}
	if _, err := s.Change(ctx, p2, change("production", "checkout_v2", Enable, "")); !errors.Is(err, ErrUndefined) {
		t.Errorf("enabling a removed flag: %v, want ErrUndefined", err)
	}
	ch, err := s.Change(ctx, p2, change("production", "checkout_v2", Reset, ""))
	if err != nil || ch.Before.Variant != "off" || ch.After != (Setting{}) {
		t.Fatalf("resetting a removed flag's override: %+v %v", ch, err)
	}
	if _, orphans, _ := s.View(ctx, p2, "production"); len(orphans) != 0 {
		t.Errorf("orphans after reset: %+v", orphans)
	}
}

func TestDifferences(t *testing.T) {
	p := project(t, flagsYAML)
	for _, c := range []struct {
		name string
		env  string
		key  string
		o    *Override
		want []Difference
	}{
		{"none", "production", "checkout_v2", nil, nil},
		{"same as the file", "production", "checkout_v2", &Override{State: spec.FlagEnabled, Variant: "on"}, nil},
		{"state", "staging", "checkout_v2", &Override{State: spec.FlagEnabled}, []Difference{{"state", "DISABLED", "ENABLED"}}},
		{"variant", "production", "checkout_v2", &Override{Variant: "off"}, []Difference{{"variant", "on", "off"}}},
		{"pin over a split", "production", "banner", &Override{Variant: "blue"}, []Difference{{"variant", "a split (blue 50%, red 50%)", "blue"}}},
	} {
		r := resolve(c.key, *p.Flag(c.key, c.env), c.o)
		if got := r.Differences(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}
