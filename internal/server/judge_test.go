package server

import (
	"context"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/target"
)

// counters is a metric source whose numbers the test sets.
type counters map[string]target.Counters

func (c counters) Counters(_ context.Context, q analysis.Query) ([]target.Counters, error) {
	var out []target.Counters
	for _, v := range q.Versions {
		if x, ok := c[v]; ok {
			out = append(out, x)
		}
	}
	return out, nil
}

func canaryState(stable bool, weight float64) rollout.State {
	st := rollout.State{Config: rollout.Config{ID: "3", Service: "hello", Environment: "production",
		New: target.Version{Version: "v2"}, Steps: []rollout.Step{{Weight: weight, MinDuration: time.Second}}}}
	if stable {
		st.Stable = &target.Version{Version: "v1"}
	}
	return st
}

func TestJudgeWithoutComparison(t *testing.T) {
	p := hello(t)
	j := NewJudge(counters{}, func() (*spec.Project, error) { return p, nil }, time.Now)
	for name, st := range map[string]rollout.State{"first release": canaryState(false, 10), "all traffic": canaryState(true, 100)} {
		v, err := j.Judge(context.Background(), st)
		if err != nil || v.Decision != analysis.Pass {
			t.Errorf("%s: %v %+v", name, err, v)
		}
	}
}

func TestJudgeFailsABadCanary(t *testing.T) {
	p := hello(t)
	now := time.Unix(1_700_000_000, 0)
	src := counters{}
	j := NewJudge(src, func() (*spec.Project, error) { return p, nil }, func() time.Time { return now })
	st := canaryState(true, 10)
	var v analysis.Verdict
	for i := int64(1); i <= 60 && v.Decision != analysis.Fail; i++ {
		// 100 requests a second; stable 0.1 % errors, the canary 30 %.
		src["v1"] = target.Counters{Version: "v1", Requests: 90 * i, Errors: 90 * i / 1000, At: now}
		src["v2"] = target.Counters{Version: "v2", Requests: 10 * i, Errors: 3 * i, At: now}
		var err error
		if v, err = j.Judge(context.Background(), st); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Second)
	}
	if v.Decision != analysis.Fail {
		t.Fatalf("a canary failing 30 %% of requests was not rolled back within 60 s: %+v", v)
	}
}
