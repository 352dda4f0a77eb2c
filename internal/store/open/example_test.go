package open_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/open"
)

// The engine's loop in miniature: start a rollout, move it with optimistic
// concurrency, and promote it, setting the stable version in the same step.
func Example() {
	ctx := context.Background()
	home, _ := os.MkdirTemp("", "belay-home")
	defer os.RemoveAll(home)
	s, err := open.Open(ctx, "", home, nil) // SQLite at home/state.db
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	now := time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC)
	rel, _ := s.CreateRelease(ctx, store.Release{Service: "api", Version: "api-2026.05.12-8f3a91c",
		Owner: "alice", Plan: json.RawMessage(`{"migration_type":"expand_only"}`), CreatedAt: now})
	r, _ := s.CreateRollout(ctx, store.Rollout{ReleaseID: rel.ID, Environment: "staging",
		RolloutState: store.RolloutState{Phase: "Pending"}, CreatedAt: now}, store.Effects{})

	r, _ = s.Transition(ctx, r.ID, r.Seq, store.RolloutState{Phase: "Deploying"}, store.Step{At: now, Reason: "verified"})
	_, err = s.Transition(ctx, r.ID, 0, store.RolloutState{Phase: "Deploying"}, store.Step{At: now}) // a stale retry
	fmt.Println(errors.Is(err, store.ErrConflict))

	r, _ = s.Transition(ctx, r.ID, r.Seq, store.RolloutState{Phase: "Succeeded", Terminal: true}, store.Step{At: now,
		Reason: "smoke tests passed", Effects: store.Effects{
			Stable: &store.StableVersion{Service: "api", Environment: "staging", Version: rel.Version, Digest: "sha256:0a1b", At: now}}})
	st, _ := s.Stable(ctx, "api", "staging")
	fmt.Println(r.Phase, r.Seq, st.Version)
	// Output:
	// true
	// Succeeded 2 api-2026.05.12-8f3a91c
}
