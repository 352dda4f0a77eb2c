package storetest

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

func rollout(t testing.TB, s store.Store, rel store.Release, env string) store.Rollout {
	t.Helper()
	return must(s.CreateRollout(ctx(t), store.Rollout{ReleaseID: rel.ID, Environment: env,
		RolloutState: store.RolloutState{Phase: "Pending", State: json.RawMessage(`{"step": 0}`)}, CreatedAt: at}, store.Effects{}))
}

func state(phase string, terminal bool) store.RolloutState {
	return store.RolloutState{Phase: phase, State: json.RawMessage(`{"phase":"` + phase + `"}`), Terminal: terminal}
}

func testRollout(t *testing.T, s store.Store) {
	rel := release(t, s, "api", "api-2026.05.12-8f3a91c")
	r := rollout(t, s, rel, "staging")
	if r.ID == 0 || r.Seq != 0 || r.Service != "api" || r.Version != rel.Version {
		t.Fatalf("CreateRollout = %+v: want an ID, seq 0 and the release's service and version", r)
	}
	got := must(s.GetRollout(ctx(t), r.ID))
	if !reflect.DeepEqual(got, r) {
		t.Errorf("GetRollout = %+v, want %+v", got, r)
	}
	sameJSON(t, "state", got.State, json.RawMessage(`{"step": 0}`))

	steps := []string{"Verifying", "Deploying", "SmokeTesting"}
	for i, phase := range steps {
		later := at.Add(time.Duration(i+1) * time.Second)
		r = must(s.Transition(ctx(t), r.ID, int64(i), state(phase, false),
			store.Step{At: later, Reason: "because " + phase, Evidence: json.RawMessage(`{"n": ` + string(rune('1'+i)) + `}`)}))
		if r.Seq != int64(i+1) || r.Phase != phase || !r.UpdatedAt.Equal(norm(later)) || !r.CreatedAt.Equal(norm(at)) {
			t.Fatalf("after transition %d: %+v", i+1, r)
		}
	}
	trs := must(s.Transitions(ctx(t), r.ID))
	if len(trs) != len(steps) {
		t.Fatalf("%d transitions, want %d", len(trs), len(steps))
	}
	from := "Pending"
	for i, tr := range trs {
		want := store.Transition{RolloutID: r.ID, Seq: int64(i + 1), From: from, To: steps[i],
			At: norm(at.Add(time.Duration(i+1) * time.Second)), Reason: "because " + steps[i],
			Evidence: json.RawMessage(`{"n": ` + string(rune('1'+i)) + `}`)}
		if !reflect.DeepEqual(tr, want) {
			t.Errorf("transition %d = %+v, want %+v", i+1, tr, want)
		}
		from = steps[i]
	}
	_, err := s.GetRollout(ctx(t), r.ID+100)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.Transition(ctx(t), r.ID+100, 0, state("Verifying", false), store.Step{At: at})
	wantErr(t, err, store.ErrNotFound)
}

func testRolloutActiveConflict(t *testing.T, s store.Store) {
	rel := release(t, s, "api", "api-2026.05.12-8f3a91c")
	first := rollout(t, s, rel, "production")
	rollout(t, s, rel, "staging") // another environment is fine
	other := release(t, s, "web", "web-2026.05.12-8f3a91c")
	rollout(t, s, other, "production") // another service is fine

	rel2 := release(t, s, "api", "api-2026.05.13-1234567")
	_, err := s.CreateRollout(ctx(t), store.Rollout{ReleaseID: rel2.ID, Environment: "production",
		RolloutState: state("Pending", false), CreatedAt: at}, store.Effects{})
	wantErr(t, err, store.ErrConflict, "api", "production", "rollout "+itoa(first.ID), rel.Version, "Pending")

	// Once the first finishes, the next may start.
	must(s.Transition(ctx(t), first.ID, 0, state("Succeeded", true), store.Step{At: at}))
	second := rollout(t, s, rel2, "production")
	// A finished rollout cannot become active again beside it, nor move at all.
	_, err = s.Transition(ctx(t), first.ID, 1, state("Canary", false), store.Step{At: at})
	wantErr(t, err, store.ErrConflict, "finished")
	if got := must(s.GetRollout(ctx(t), second.ID)); got.Seq != 0 {
		t.Errorf("second rollout seq = %d", got.Seq)
	}
}

func testRolloutInvalid(t *testing.T, s store.Store) {
	rel := release(t, s, "api", "api-2026.05.12-8f3a91c")
	_, err := s.CreateRollout(ctx(t), store.Rollout{ReleaseID: rel.ID + 100, Environment: "staging", RolloutState: state("Pending", false)}, store.Effects{})
	wantErr(t, err, store.ErrNotFound, "release")
	_, err = s.CreateRollout(ctx(t), store.Rollout{ReleaseID: rel.ID, Service: "web", Environment: "staging", RolloutState: state("Pending", false)}, store.Effects{})
	wantErr(t, err, store.ErrInvalid, "does not match release")
	_, err = s.CreateRollout(ctx(t), store.Rollout{ReleaseID: rel.ID, RolloutState: state("Pending", false)}, store.Effects{})
	wantErr(t, err, store.ErrInvalid, "environment")
	_, err = s.CreateRollout(ctx(t), store.Rollout{ReleaseID: rel.ID, Environment: "staging",
		RolloutState: store.RolloutState{Phase: "Pending", State: json.RawMessage("{")}}, store.Effects{})
	wantErr(t, err, store.ErrInvalid, "state")

	r := rollout(t, s, rel, "staging")
	_, err = s.Transition(ctx(t), r.ID, 0, store.RolloutState{Phase: "Verifying", State: json.RawMessage("nope")}, store.Step{At: at})
	wantErr(t, err, store.ErrInvalid, "state")
	_, err = s.Transition(ctx(t), r.ID, 0, store.RolloutState{}, store.Step{At: at})
	wantErr(t, err, store.ErrInvalid, "phase")
	if got := must(s.GetRollout(ctx(t), r.ID)); got.Seq != 0 || got.Phase != "Pending" {
		t.Errorf("refused transitions changed the rollout: %+v", got)
	}
}
