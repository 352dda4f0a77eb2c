package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/target"
)

// A shadow step is judged on the pairs the target counts, read from the
// builtin source even when the service's analysis reads Prometheus, and a
// new version failing where stable succeeds is rolled back.
func TestJudgeShadowStepReadsPairsFromTheTarget(t *testing.T) {
	p := project(t, helloYAML)
	now := time.Unix(1_700_000_000, 0)
	src := counters{}
	var asked []*spec.Analysis
	j := NewJudge(JudgeDeps{
		Source: func(a *spec.Analysis) (analysis.Source, error) {
			asked = append(asked, a)
			if a != nil {
				return nil, errors.New("the shadow step must not read the service's own source")
			}
			return src, nil
		},
		Project: func() (*spec.Project, error) { return p, nil }, Now: func() time.Time { return now },
	})
	st := helloState(true, 0, rollout.Canary)
	st.Steps = append([]rollout.Step{{Shadow: 100, MinDuration: time.Minute}}, st.Steps...)
	var v analysis.Verdict
	for i := int64(1); i <= 60 && v.Decision != analysis.Fail; i++ {
		// 200 pairs a second; the new version fails 5 % of them.
		src["v3"] = target.Counters{Version: "v3", At: now, Shadow: &target.ShadowCounters{Sent: 200 * i, BothOK: 190 * i, NewFailed: 10 * i}}
		src["v2"] = target.Counters{Version: "v2", Requests: 200 * i, At: now}
		var err error
		if v, err = j.Judge(context.Background(), st); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Second)
	}
	if v.Decision != analysis.Fail || v.Trigger != "shadow:errors" {
		t.Fatalf("a shadow copy failing 5 %% was not rolled back within 60 s: %+v", v)
	}
	if len(asked) == 0 || asked[0] != nil {
		t.Fatalf("sources asked for %v; want the builtin (nil)", asked)
	}
}
