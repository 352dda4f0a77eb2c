package storetest

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/belay-dev/belay/internal/store"
)

func testEvents(t *testing.T, s store.Store) {
	if evs := must(s.EventsSince(ctx(t), 0, 10)); len(evs) != 0 {
		t.Fatalf("events in an empty store: %v", evs)
	}
	var ids []int64
	for i := range 5 {
		ids = append(ids, must(s.AppendEvent(ctx(t), json.RawMessage(fmt.Sprintf(`{"event": "e%d"}`, i)), at)))
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("event IDs not increasing: %v", ids)
		}
	}
	evs := must(s.EventsSince(ctx(t), ids[1], 2))
	if len(evs) != 2 || evs[0].ID != ids[2] || evs[1].ID != ids[3] || !evs[0].At.Equal(norm(at)) {
		t.Fatalf("EventsSince(%d, 2) = %+v", ids[1], evs)
	}
	sameJSON(t, "event", evs[0].Data, json.RawMessage(`{"event": "e2"}`))
	if evs := must(s.EventsSince(ctx(t), ids[4], 10)); len(evs) != 0 {
		t.Errorf("events after the last: %v", evs)
	}
	testEventKeys(t, s)
	_, err := s.AppendEvent(ctx(t), json.RawMessage(`{"event":`), at)
	wantErr(t, err, store.ErrInvalid, "JSON")
	_, err = s.AppendEvent(ctx(t), nil, at)
	wantErr(t, err, store.ErrInvalid)
	_, err = s.EventsSince(ctx(t), 0, 0)
	wantErr(t, err, store.ErrInvalid, "limit")
}

func testAudit(t *testing.T, s store.Store) {
	a := store.AuditEntry{At: at, Actor: "carol", Action: "approve", Subject: "release/1", Reason: "change ticket 42"}
	id1 := must(s.AppendAudit(ctx(t), a))
	a.Detail = json.RawMessage(`{"env": "production"}`)
	id2 := must(s.AppendAudit(ctx(t), a))
	got := must(s.AuditSince(ctx(t), 0, 10))
	if len(got) != 2 || got[0].ID != id1 || got[1].ID != id2 || got[0].Detail != nil || got[1].Actor != "carol" || !got[1].At.Equal(norm(at)) {
		t.Fatalf("AuditSince = %+v", got)
	}
	sameJSON(t, "detail", got[1].Detail, a.Detail)
	if got := must(s.AuditSince(ctx(t), id1, 10)); len(got) != 1 || got[0].ID != id2 {
		t.Errorf("AuditSince(%d) = %+v", id1, got)
	}
	_, err := s.AppendAudit(ctx(t), store.AuditEntry{Actor: "carol", Subject: "x"})
	wantErr(t, err, store.ErrInvalid, "action")
}

// testEventKeys: an event re-sent with the same "id" (a rollout's events
// after a server crash) is stored once; events without one always are.
func testEventKeys(t *testing.T, s store.Store) {
	first := must(s.AppendEvent(ctx(t), json.RawMessage(`{"id": "7/3/0", "event": "canary_step"}`), at))
	again := must(s.AppendEvent(ctx(t), json.RawMessage(`{"id": "7/3/0", "event": "canary_step", "time": "later"}`), at))
	other := must(s.AppendEvent(ctx(t), json.RawMessage(`{"id": "7/3/1", "event": "canary_step"}`), at))
	anon1 := must(s.AppendEvent(ctx(t), json.RawMessage(`{"event": "x"}`), at))
	anon2 := must(s.AppendEvent(ctx(t), json.RawMessage(`{"event": "x"}`), at))
	num := must(s.AppendEvent(ctx(t), json.RawMessage(`{"id": 5}`), at))
	num2 := must(s.AppendEvent(ctx(t), json.RawMessage(`{"id": 5}`), at))
	if again != first || other == first || anon1 == anon2 || num == num2 {
		t.Fatalf("ids: first %d, again %d, other %d, anonymous %d %d, numeric id %d %d", first, again, other, anon1, anon2, num, num2)
	}
	evs := must(s.EventsSince(ctx(t), first-1, 100))
	if len(evs) != 6 {
		t.Fatalf("after appending 7/3/0 twice and five others: %d events stored, want 6", len(evs))
	}
	sameJSON(t, "event kept", evs[0].Data, json.RawMessage(`{"id": "7/3/0", "event": "canary_step"}`))
}
