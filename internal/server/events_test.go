package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/store/sqlite"
)

// A server that crashed after storing events and before copying them to
// events.jsonl copies them when it starts, each ID once, however often it
// restarts.
func TestSyncEventFileCopiesEachStoredEventOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "state.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	path := filepath.Join(dir, "events.jsonl")
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for i := range 5 {
		e := event.Event{ID: fmt.Sprintf("7/%d/0", i+1), Event: event.PhaseChanged, Time: at}
		b, _ := json.Marshal(e)
		if _, err := st.AppendEvent(ctx, b, at); err != nil {
			t.Fatal(err)
		}
		if i < 2 { // copied before the crash
			if err := event.NewFile(path).Emit(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 2 { // two restarts
		s := &Server{d: Deps{Store: st, Events: event.NewFile(path), Logger: slog.New(slog.DiscardHandler)}, notify: newBroadcast()}
		s.syncEventFile(ctx)
	}
	evs, err := event.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 5 {
		t.Fatalf("%d events in the file, want 5", len(evs))
	}
	for i, e := range evs {
		if want := fmt.Sprintf("7/%d/0", i+1); e.ID != want {
			t.Errorf("event %d is %s, want %s", i, e.ID, want)
		}
	}
}
