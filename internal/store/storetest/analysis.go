package storetest

import (
	"encoding/json"
	"testing"

	"github.com/belay-dev/belay/internal/store"
)

func testAnalysis(t *testing.T, s store.Store) {
	rel := release(t, s, "api", "api-2026.05.12-8f3a91c")
	r := rollout(t, s, rel, "staging")
	other := rollout(t, s, rel, "production")
	_, err := s.LoadAnalysis(ctx(t), r.ID, 0)
	wantErr(t, err, store.ErrNotFound, "step 0", "rollout "+itoa(r.ID))

	s0 := json.RawMessage(`{"n": 10,  "llr": -0.5}`)
	s0b := json.RawMessage(`{"n": 250, "llr": 1.25}`)
	s1 := json.RawMessage(`{"n": 3}`)
	ok(t, s.SaveAnalysis(ctx(t), r.ID, 0, s0, at))
	ok(t, s.SaveAnalysis(ctx(t), r.ID, 1, s1, at))
	ok(t, s.SaveAnalysis(ctx(t), other.ID, 0, s0, at))
	ok(t, s.SaveAnalysis(ctx(t), r.ID, 0, s0b, at)) // replaces
	sameJSON(t, "step 0", must(s.LoadAnalysis(ctx(t), r.ID, 0)), s0b)
	sameJSON(t, "step 1", must(s.LoadAnalysis(ctx(t), r.ID, 1)), s1)
	sameJSON(t, "other rollout", must(s.LoadAnalysis(ctx(t), other.ID, 0)), s0)

	wantErr(t, s.SaveAnalysis(ctx(t), r.ID+100, 0, s0, at), store.ErrNotFound, "rollout")
	wantErr(t, s.SaveAnalysis(ctx(t), r.ID, 0, json.RawMessage(`{"n":`), at), store.ErrInvalid, "analysis state")
	wantErr(t, s.SaveAnalysis(ctx(t), r.ID, 0, nil, at), store.ErrInvalid, "empty")
	wantErr(t, s.SaveAnalysis(ctx(t), r.ID, -1, s0, at), store.ErrInvalid, "step")
	sameJSON(t, "step 0 after refused saves", must(s.LoadAnalysis(ctx(t), r.ID, 0)), s0b)

	ok(t, s.DeleteAnalyses(ctx(t), r.ID, 1)) // keep step 1
	_, err = s.LoadAnalysis(ctx(t), r.ID, 0)
	wantErr(t, err, store.ErrNotFound)
	sameJSON(t, "kept step 1", must(s.LoadAnalysis(ctx(t), r.ID, 1)), s1)
	ok(t, s.DeleteAnalyses(ctx(t), r.ID, -1))
	_, err = s.LoadAnalysis(ctx(t), r.ID, 1)
	wantErr(t, err, store.ErrNotFound)
	ok(t, s.DeleteAnalyses(ctx(t), r.ID, -1)) // nothing left: no error
	sameJSON(t, "other rollout after deletes", must(s.LoadAnalysis(ctx(t), other.ID, 0)), s0)
}
