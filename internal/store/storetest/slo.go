package storetest

import (
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

func testSLOSamples(t *testing.T, s store.Store) {
	t0 := time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC)
	counts := func(env, svc string, since time.Time) (int64, int64, bool) {
		t.Helper()
		r, e, ok, err := s.SLOCounts(ctx(t), env, svc, since)
		if err != nil {
			t.Fatal(err)
		}
		return r, e, ok
	}
	if _, _, ok := counts("production", "api", t0); ok {
		t.Fatal("an empty store has counts")
	}
	// two samples in the 10:00 minute add up; one at 10:01, one at 10:05
	for _, smp := range []store.SLOSample{
		{Environment: "production", Service: "api", At: t0.Add(10 * time.Second), Requests: 100, Errors: 1},
		{Environment: "production", Service: "api", At: t0.Add(50 * time.Second), Requests: 50, Errors: 4},
		{Environment: "production", Service: "api", At: t0.Add(70 * time.Second), Requests: 10, Errors: 0},
		{Environment: "production", Service: "api", At: t0.Add(5 * time.Minute), Requests: 0, Errors: 0},
		{Environment: "staging", Service: "api", At: t0, Requests: 7, Errors: 7},
		{Environment: "production", Service: "web", At: t0, Requests: 3, Errors: 0},
	} {
		ok(t, s.AddSLOSample(ctx(t), smp))
	}
	if r, e, known := counts("production", "api", t0); r != 160 || e != 5 || !known {
		t.Errorf("production api since 10:00: %d requests, %d errors, known %v; want 160, 5", r, e, known)
	}
	if r, e, _ := counts("production", "api", t0.Add(90*time.Second)); r != 10 || e != 0 {
		t.Errorf("since 10:01:30 (its minute counts): %d, %d; want 10, 0", r, e)
	}
	// a bucket with no traffic is data: zero requests, known
	if r, _, known := counts("production", "api", t0.Add(4*time.Minute)); r != 0 || !known {
		t.Errorf("since 10:04: %d requests, known %v; want 0 and known", r, known)
	}
	if _, _, known := counts("production", "api", t0.Add(6*time.Minute)); known {
		t.Error("since 10:06: known, want no data")
	}
	if r, e, _ := counts("staging", "api", t0); r != 7 || e != 7 {
		t.Errorf("staging: %d, %d", r, e)
	}
	wantErr(t, s.AddSLOSample(ctx(t), store.SLOSample{Environment: "production", Service: "api", At: t0, Requests: 1, Errors: 2}), store.ErrInvalid, "errors at most requests")
	wantErr(t, s.AddSLOSample(ctx(t), store.SLOSample{Environment: "production", Service: "api", At: t0, Requests: -1}), store.ErrInvalid)
	wantErr(t, s.AddSLOSample(ctx(t), store.SLOSample{Service: "api", At: t0}), store.ErrInvalid, "environment")

	n, err := s.PruneSLOSamples(ctx(t), t0.Add(90*time.Second)) // drops the 10:00 buckets only
	ok(t, err)
	if n != 3 {
		t.Errorf("pruned %d buckets, want 3 (10:00 of production api, staging api, production web)", n)
	}
	if r, e, _ := counts("production", "api", t0); r != 10 || e != 0 {
		t.Errorf("after pruning: %d, %d; want 10, 0", r, e)
	}
}
