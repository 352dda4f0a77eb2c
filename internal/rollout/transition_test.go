package rollout

import (
	"math"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
)

func TestEntryActionsAreIdempotentDescriptions(t *testing.T) {
	s := canaryAt(t, testConfig())
	// The same phase yields the same desired state however often it is asked.
	a, b := s.entryActions(), s.entryActions()
	if len(a) != 1 || a[0].Desired.Versions[0].Weight != 90 || b[0].Desired.Versions[1].Weight != 10 {
		t.Fatalf("%+v", a)
	}
	a[0].Desired.Versions[0].Weight = 1
	if s.entryActions()[0].Desired.Versions[0].Weight != 90 {
		t.Fatal("actions share memory with the state")
	}
}

func TestRollbackActions(t *testing.T) {
	s := canaryAt(t, testConfig())
	s.Phase = RollingBack
	acts := s.rollbackActions()
	if len(acts) != 1 || acts[0].Kind != SetWeights || acts[0].Desired.Versions[0].Version != "api-v1" {
		t.Fatalf("%+v", acts)
	}
	s.Stable = nil
	acts = s.rollbackActions()
	if len(acts) != 1 || acts[0].Kind != StopVersion || acts[0].Desired.Versions == nil || len(acts[0].Desired.Versions) != 0 {
		t.Fatalf("first release: %+v", acts)
	}
}

func TestEventCarriesTheNumbers(t *testing.T) {
	s := canaryAt(t, testConfig())
	v := analysis.Verdict{Decision: analysis.Fail, Reason: "error_rate > 1% for 5m firing", Evidence: []analysis.Evidence{
		{Check: "p95_latency > 900ms for 10m", State: "ok", Canary: 0.412},
		{Check: "error_rate > 1% for 5m", State: "firing", Canary: 0.034},
		{Check: "sequential:errors", State: "firing", Canary: 0.5},
	}}
	next, acts := Next(s, Observation{Kind: Judged, Seq: s.Seq, Verdict: &v}, t0.Add(time.Minute))
	e := acts[0].Event
	if next.Phase != RollingBack || e.HealthStatus != "failing" || e.ErrorRate == nil || math.Abs(*e.ErrorRate-3.4) > 1e-9 ||
		e.P95LatencyMS == nil || math.Abs(*e.P95LatencyMS-412) > 1e-9 || len(e.Evidence) == 0 {
		t.Fatalf("%s %+v", next.Phase, e)
	}
}
