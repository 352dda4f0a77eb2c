package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

// testSinks: a new sink starts after the newest event; skipping and
// finished deliveries move the cursor forward only; a pending delivery keeps
// its attempts and next try and does not move it; unknown events and states
// are refused.
func testSinks(t *testing.T, s store.Store) {
	var ids []int64
	for i := range 4 {
		ids = append(ids, must(s.AppendEvent(ctx(t), json.RawMessage(fmt.Sprintf(`{"id": "e%d", "event": "x"}`, i)), at)))
	}
	if got := must(s.SinkCursor(ctx(t), "ops", at)); got != ids[3] {
		t.Fatalf("new sink's cursor = %d, want the newest event %d", got, ids[3])
	}
	more := must(s.AppendEvent(ctx(t), json.RawMessage(`{"id": "e4", "event": "x"}`), at))
	if got := must(s.SinkCursor(ctx(t), "ops", at)); got != ids[3] {
		t.Fatalf("cursor moved by itself to %d", got)
	}
	if _, err := s.Delivery(ctx(t), "ops", more); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Delivery before any attempt: %v, want ErrNotFound", err)
	}
	pending := store.Delivery{Sink: "ops", EventID: more, State: store.DeliveryPending, Attempts: 2,
		FirstTry: at, NextTry: at.Add(time.Minute), LastError: "500 Internal Server Error", UpdatedAt: at.Add(time.Second)}
	ok(t, s.RecordDelivery(ctx(t), pending))
	got := must(s.Delivery(ctx(t), "ops", more))
	want := pending
	want.FirstTry, want.NextTry, want.UpdatedAt = norm(at), norm(at.Add(time.Minute)), norm(at.Add(time.Second))
	if got != want {
		t.Fatalf("Delivery = %+v, want %+v", got, want)
	}
	if c := must(s.SinkCursor(ctx(t), "ops", at)); c != ids[3] {
		t.Fatalf("a pending delivery moved the cursor to %d", c)
	}
	done := pending
	done.State, done.Attempts, done.NextTry, done.LastError = store.DeliveryDelivered, 3, time.Time{}, ""
	ok(t, s.RecordDelivery(ctx(t), done))
	if c := must(s.SinkCursor(ctx(t), "ops", at)); c != more {
		t.Fatalf("cursor after delivery = %d, want %d", c, more)
	}
	if d := must(s.Delivery(ctx(t), "ops", more)); d.State != store.DeliveryDelivered || d.Attempts != 3 || !d.NextTry.IsZero() {
		t.Fatalf("delivered row = %+v", d)
	}
	ok(t, s.SkipEvents(ctx(t), "ops", ids[1], at)) // never back
	if c := must(s.SinkCursor(ctx(t), "ops", at)); c != more {
		t.Fatalf("SkipEvents moved the cursor back to %d", c)
	}
	// Another sink is separate; a failed delivery of an old event moves it.
	ok(t, s.SkipEvents(ctx(t), "grafana", ids[0], at))
	ok(t, s.RecordDelivery(ctx(t), store.Delivery{Sink: "grafana", EventID: ids[2], State: store.DeliveryFailed, Attempts: 1, LastError: "400 Bad Request", UpdatedAt: at}))
	if c := must(s.SinkCursor(ctx(t), "grafana", at)); c != ids[2] {
		t.Fatalf("grafana cursor = %d, want %d", c, ids[2])
	}
	if ds := must(s.Deliveries(ctx(t), "grafana", store.DeliveryFailed)); len(ds) != 1 || ds[0].EventID != ids[2] || ds[0].LastError != "400 Bad Request" || !ds[0].FirstTry.Equal(norm(at)) {
		t.Fatalf("failed deliveries = %+v", ds)
	}
	if ds := must(s.Deliveries(ctx(t), "ops", "")); len(ds) != 1 || ds[0].EventID != more {
		t.Fatalf("all deliveries of ops = %+v", ds)
	}
	if ds := must(s.Deliveries(ctx(t), "ops", store.DeliveryFailed)); len(ds) != 0 {
		t.Fatalf("failed deliveries of ops = %+v", ds)
	}
	if err := s.RecordDelivery(ctx(t), store.Delivery{Sink: "ops", EventID: more + 100, State: store.DeliveryFailed, UpdatedAt: at}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delivery of an unknown event: %v, want ErrNotFound", err)
	}
	for _, bad := range []store.Delivery{{Sink: "ops", EventID: more, State: "lost"}, {EventID: more, State: store.DeliveryPending}} {
		if err := s.RecordDelivery(ctx(t), bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("RecordDelivery(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}
