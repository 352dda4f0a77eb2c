package storetest

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/store"
)

// flagChange is the audit entry and event of a change of flag in env.
func flagChange(env, flag, actor string, when time.Time) (store.AuditEntry, []event.Event) {
	a := store.AuditEntry{At: when, Actor: actor, Action: "flag.set", Subject: "flag/" + env + "/" + flag, Reason: "test",
		Detail: []byte(`{"before":{"state":"ENABLED"},"after":{"state":"DISABLED"}}`)}
	return a, []event.Event{{Event: event.FlagChanged, Time: when, Environment: env, Flag: flag, Actor: actor}}
}

// testFlagOverride: an override reads back as set, per environment or all,
// is replaced in place, and removed; each change stores its audit entry
// and events; clearing an override that is not there is still audited.
func testFlagOverride(t *testing.T, s store.Store) {
	if got := must(s.FlagOverrides(ctx(t), "")); len(got) != 0 {
		t.Fatalf("overrides of a new store: %+v", got)
	}
	off := store.FlagOverride{Environment: "production", Flag: "checkout_v2", State: "DISABLED", Actor: "alice", Reason: "incident 42", At: at}
	pin := store.FlagOverride{Environment: "staging", Flag: "checkout_v2", Variant: "on", Actor: "bob", Reason: "try it", At: at.Add(time.Second)}
	other := store.FlagOverride{Environment: "production", Flag: "banner", State: "ENABLED", Variant: "blue", Actor: "alice", Reason: "launch", At: at}
	for _, o := range []store.FlagOverride{off, pin, other} {
		a, evs := flagChange(o.Environment, o.Flag, o.Actor, o.At)
		ok(t, s.SetFlagOverride(ctx(t), o, a, evs))
	}
	for _, o := range []*store.FlagOverride{&off, &pin, &other} {
		o.At = norm(o.At)
	}
	if got := must(s.FlagOverrides(ctx(t), "")); !reflect.DeepEqual(got, []store.FlagOverride{other, off, pin}) {
		t.Errorf("FlagOverrides(all) = %+v, want production's banner and checkout_v2, then staging's", got)
	}
	if got := must(s.FlagOverrides(ctx(t), "staging")); !reflect.DeepEqual(got, []store.FlagOverride{pin}) {
		t.Errorf("FlagOverrides(staging) = %+v, want %+v", got, pin)
	}
	if got := must(s.FlagOverrides(ctx(t), "qa")); len(got) != 0 {
		t.Errorf("FlagOverrides(qa) = %+v, want none", got)
	}

	// Replaced in place: still one override of production's checkout_v2.
	on := store.FlagOverride{Environment: "production", Flag: "checkout_v2", State: "ENABLED", Variant: "off", Actor: "carol", Reason: "fixed", At: at.Add(time.Minute)}
	a, evs := flagChange("production", "checkout_v2", "carol", on.At)
	ok(t, s.SetFlagOverride(ctx(t), on, a, evs))
	on.At = norm(on.At)
	if got := must(s.FlagOverrides(ctx(t), "production")); !reflect.DeepEqual(got, []store.FlagOverride{other, on}) {
		t.Errorf("after replacing: %+v, want %+v and %+v", got, other, on)
	}

	a, evs = flagChange("staging", "checkout_v2", "dave", at.Add(time.Hour))
	a.Action = "flag.reset"
	ok(t, s.ClearFlagOverride(ctx(t), "staging", "checkout_v2", a, evs))
	if got := must(s.FlagOverrides(ctx(t), "staging")); len(got) != 0 {
		t.Errorf("after clearing: %+v, want none", got)
	}
	a, evs = flagChange("staging", "nothing_here", "dave", at.Add(time.Hour))
	a.Action = "flag.reset"
	ok(t, s.ClearFlagOverride(ctx(t), "staging", "nothing_here", a, evs))

	audit := must(s.AuditSince(ctx(t), 0, 100))
	if len(audit) != 6 {
		t.Fatalf("audit = %+v, want one entry per change (6)", audit)
	}
	if e := audit[3]; e.Actor != "carol" || e.Subject != "flag/production/checkout_v2" || !e.At.Equal(norm(on.At)) || len(e.Leaf) != 32 {
		t.Errorf("audit entry 4 = %+v, want carol's change of flag/production/checkout_v2 with its leaf", e)
	}
	sameJSON(t, "audit detail", audit[3].Detail, []byte(`{"before":{"state":"ENABLED"},"after":{"state":"DISABLED"}}`))
	if e := audit[5]; e.Action != "flag.reset" || e.Subject != "flag/staging/nothing_here" {
		t.Errorf("clearing nothing: audit entry %+v, want flag.reset of flag/staging/nothing_here", e)
	}
	stored := must(s.EventsSince(ctx(t), 0, 100))
	if len(stored) != 6 {
		t.Fatalf("events = %d, want one per change (6)", len(stored))
	}
	var ev event.Event
	ok(t, json.Unmarshal(stored[3].Data, &ev))
	if ev.Event != event.FlagChanged || ev.Flag != "checkout_v2" || ev.Environment != "production" || ev.Actor != "carol" || !stored[3].At.Equal(norm(on.At)) {
		t.Errorf("event 4 = %+v at %v, want carol's flag_changed of checkout_v2 in production at %v", ev, stored[3].At, norm(on.At))
	}
}

// testFlagOverrideInvalid: a bad override is refused saying why; a change
// whose audit entry is refused leaves no override, entry nor event.
func testFlagOverrideInvalid(t *testing.T, s store.Store) {
	good := store.FlagOverride{Environment: "production", Flag: "checkout_v2", State: "DISABLED", Actor: "alice", At: at}
	a, evs := flagChange("production", "checkout_v2", "alice", at)
	for _, c := range []struct {
		name  string
		o     store.FlagOverride
		audit store.AuditEntry
		want  []string
	}{
		{"no environment", store.FlagOverride{Flag: "f", State: "DISABLED", Actor: "alice"}, a, []string{"environment"}},
		{"no flag", store.FlagOverride{Environment: "production", State: "DISABLED", Actor: "alice"}, a, []string{"flag"}},
		{"no actor", store.FlagOverride{Environment: "production", Flag: "f", State: "DISABLED"}, a, []string{"actor"}},
		{"bad state", store.FlagOverride{Environment: "production", Flag: "f", State: "off", Actor: "alice"}, a, []string{`state "off"`, "ENABLED, DISABLED"}},
		{"nothing", store.FlagOverride{Environment: "production", Flag: "f", Actor: "alice"}, a, []string{"neither state nor variant", "clear it"}},
		{"audit without actor", good, store.AuditEntry{At: at, Action: "flag.disable", Subject: "flag/production/checkout_v2"}, []string{"actor"}},
	} {
		err := s.SetFlagOverride(ctx(t), c.o, c.audit, evs)
		wantErr(t, err, store.ErrInvalid, c.want...)
	}
	err := s.ClearFlagOverride(ctx(t), "production", "checkout_v2", store.AuditEntry{At: at, Actor: "alice", Subject: "flag/production/checkout_v2"}, evs)
	wantErr(t, err, store.ErrInvalid, "action")
	if got := must(s.FlagOverrides(ctx(t), "")); len(got) != 0 {
		t.Errorf("refused changes stored overrides: %+v", got)
	}
	if got := must(s.AuditSince(ctx(t), 0, 10)); len(got) != 0 {
		t.Errorf("refused changes were audited: %+v", got)
	}
	if got := must(s.EventsSince(ctx(t), 0, 10)); len(got) != 0 {
		t.Errorf("refused changes stored events: %d", len(got))
	}
}
