package storetest

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/belay-dev/belay/internal/store"
)

// Bench measures the operations the engine and followers repeat: a
// transition with its event and audit entry, one at a time (the engine's
// pace), and reading events back.
func Bench(b *testing.B, open Opener) {
	b.Run("Transition", func(b *testing.B) {
		defer fatalOnFailure(b)
		s := open(b)
		r := rollout(b, s, release(b, s, "api", "api-2026.05.12-8f3a91c"), "production")
		b.ResetTimer()
		for i := range int64(b.N) {
			must(s.Transition(b.Context(), r.ID, i, state("Canary", false), store.Step{At: at, Reason: "tick",
				Effects: store.Effects{Events: []json.RawMessage{json.RawMessage(`{"event":"canary_step"}`)},
					Audit: &store.AuditEntry{At: at, Actor: "engine", Action: "transition", Subject: "rollout"}}}))
		}
	})
	b.Run("EventsSince100", func(b *testing.B) {
		defer fatalOnFailure(b)
		s := open(b)
		for i := range 1000 {
			must(s.AppendEvent(b.Context(), json.RawMessage(fmt.Sprintf(`{"event":"e","i":%d}`, i)), at))
		}
		b.ResetTimer()
		for i := range b.N {
			if evs := must(s.EventsSince(b.Context(), int64(i%900), 100)); len(evs) != 100 {
				b.Fatalf("%d events", len(evs))
			}
		}
	})
}
