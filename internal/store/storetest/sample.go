package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

func testSamples(t *testing.T, s store.Store) {
	rel := release(t, s, "api", "api-2026.05.12-8f3a91c")
	r := rollout(t, s, rel, "staging")
	other := rollout(t, s, rel, "production")
	if got := must(s.SamplesOf(ctx(t), r.ID)); len(got) != 0 {
		t.Fatalf("a new rollout has samples: %+v", got)
	}
	p95 := 0.125
	ok(t, s.AddSamples(ctx(t), []store.Sample{
		{RolloutID: r.ID, At: at, Version: "v2", Requests: 10, Errors: 1, P95: &p95},
		{RolloutID: r.ID, At: at, Version: "v1", Requests: 90},
		{RolloutID: other.ID, At: at.Add(time.Second), Version: "v2", Requests: 5},
	}))
	got := must(s.SamplesOf(ctx(t), r.ID))
	if len(got) != 2 || got[0].Version != "v2" || got[0].Requests != 10 || got[0].Errors != 1 || got[0].P95 == nil || *got[0].P95 != p95 ||
		!got[0].At.Equal(norm(at)) || got[1].Version != "v1" || got[1].P95 != nil || got[1].RolloutID != r.ID {
		t.Fatalf("samples of rollout %d: %+v", r.ID, got)
	}
	wantErr(t, s.AddSamples(ctx(t), []store.Sample{{RolloutID: r.ID + 100, At: at, Version: "v2"}}), store.ErrNotFound, "rollout")
	wantErr(t, s.AddSamples(ctx(t), []store.Sample{{RolloutID: r.ID, At: at, Version: "v2", Requests: -1}}), store.ErrInvalid, "requests -1")
	wantErr(t, s.AddSamples(ctx(t), []store.Sample{{RolloutID: r.ID, At: at}}), store.ErrInvalid, "version")
	ok(t, s.AddSamples(ctx(t), nil))

	// Bounded: the oldest go once a rollout has more than MaxSamples.
	var many []store.Sample
	for i := range store.MaxSamples + 5 {
		many = append(many, store.Sample{RolloutID: r.ID, At: at.Add(time.Duration(i) * time.Second), Version: "v2", Requests: int64(i)})
	}
	ok(t, s.AddSamples(ctx(t), many))
	got = must(s.SamplesOf(ctx(t), r.ID))
	if len(got) != store.MaxSamples || got[0].Requests != 5 || got[len(got)-1].Requests != store.MaxSamples+4 {
		t.Fatalf("after %d more samples: %d kept, first %d requests, last %d", len(many), len(got), got[0].Requests, got[len(got)-1].Requests)
	}
	if n := len(must(s.SamplesOf(ctx(t), other.ID))); n != 1 {
		t.Fatalf("another rollout's samples were pruned: %d left", n)
	}

	// Only the newest MaxSampledRollouts rollouts keep samples.
	var newest store.Rollout
	for i := range store.MaxSampledRollouts - 2 { // with r and other: 500
		newest = rollout(t, s, rel, fmt.Sprintf("env%d", i))
	}
	ok(t, s.AddSamples(ctx(t), []store.Sample{{RolloutID: newest.ID, At: at, Version: "v2", Requests: 1}}))
	if n := len(must(s.SamplesOf(ctx(t), r.ID))); n != store.MaxSamples {
		t.Fatalf("rollout %d, among the newest %d, lost samples: %d left", r.ID, store.MaxSampledRollouts, n)
	}
	newest = rollout(t, s, rel, "one-more")
	ok(t, s.AddSamples(ctx(t), []store.Sample{{RolloutID: newest.ID, At: at, Version: "v2", Requests: 1}}))
	if n := len(must(s.SamplesOf(ctx(t), r.ID))); n != 0 {
		t.Fatalf("rollout %d, no longer among the newest %d, kept %d samples", r.ID, store.MaxSampledRollouts, n)
	}
	if n := len(must(s.SamplesOf(ctx(t), other.ID))); n != 1 {
		t.Fatalf("rollout %d, among the newest %d, lost its samples: %d left", other.ID, store.MaxSampledRollouts, n)
	}
}
