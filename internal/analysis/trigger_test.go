package analysis

import (
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/spec"
)

func mustTrigger(t *testing.T, s string, nd NoDataPolicy) TriggerConfig {
	t.Helper()
	tr, err := spec.ParseTrigger(s)
	if err != nil {
		t.Fatal(err)
	}
	return TriggerConfig{Trigger: tr, NoData: nd}
}

// Prometheus `for`: pending from the first true evaluation, firing at the
// first evaluation ≥ For later, and one false evaluation resets.
func TestTriggerForSemantics(t *testing.T) {
	tc := mustTrigger(t, "error_rate > 1% for 5m", "")
	t0 := time.Unix(0, 0)
	type step struct {
		at         time.Duration
		cond, have bool
		want       string
	}
	steps := []step{
		{0, true, true, StatePending},
		{4 * time.Minute, true, true, StatePending},
		{4*time.Minute + 30*time.Second, false, true, StateOK}, // reset
		{5 * time.Minute, true, true, StatePending},            // pending again from here
		{9*time.Minute + 59*time.Second, true, true, StatePending},
		{10 * time.Minute, true, true, StateFiring},
		{11 * time.Minute, false, true, StateOK},
	}
	var s TriggerState
	for _, st := range steps {
		s = s.evaluate(tc, st.cond, st.have, t0.Add(st.at))
		if s.Label() != st.want {
			t.Fatalf("at %v: %s, want %s", st.at, s.Label(), st.want)
		}
	}
	// For = 0 fires at once.
	s = TriggerState{}.evaluate(mustTrigger(t, "health_check_failures > 3", ""), true, true, t0)
	if !s.Firing {
		t.Error("a trigger without for must fire on its first true evaluation")
	}
}

func TestTriggerNoDataPolicies(t *testing.T) {
	t0 := time.Unix(0, 0)
	for _, c := range []struct {
		policy NoDataPolicy
		want   string
		firing bool
	}{{"", StateNoData, false}, {NoDataHold, StateNoData, false}, {NoDataFail, StateFiring, true}, {NoDataPass, StateOK, false}} {
		tc := mustTrigger(t, "error_rate > 1% for 1m", c.policy)
		s := TriggerState{}.evaluate(tc, true, true, t0) // pending
		s = s.evaluate(tc, false, false, t0.Add(2*time.Minute))
		if s.Firing != c.firing {
			t.Errorf("%q: firing = %v, want %v", c.policy, s.Firing, c.firing)
		}
		if c.policy == NoDataPass && s.Active {
			t.Errorf("pass must reset the pending state")
		}
		if (c.policy == "" || c.policy == NoDataHold) && (!s.Active || !s.NoData) {
			t.Errorf("hold must keep the pending state and report no data: %+v", s)
		}
		if c.policy != NoDataPass && c.policy != NoDataFail && s.Label() != c.want {
			t.Errorf("%q: label %s, want %s", c.policy, s.Label(), c.want)
		}
	}
	// Hold keeps the pending clock: data back after For fires at once.
	tc := mustTrigger(t, "error_rate > 1% for 1m", "")
	s := TriggerState{}.evaluate(tc, true, true, t0)
	s = s.evaluate(tc, false, false, t0.Add(30*time.Second))
	s = s.evaluate(tc, true, true, t0.Add(61*time.Second))
	if !s.Firing {
		t.Errorf("after hold, condition true for > 1m must fire: %+v", s)
	}
}
