package rollout

import (
	"encoding/json"
	"testing"
)

// Pending actions are persisted with the state and rerun after a restart.
func TestActionsSurviveJSON(t *testing.T) {
	s := canaryAt(t, testConfig())
	next, acts := Next(s, verdict(s, "pass"), t0.Add(s.Steps[0].MinDuration))
	b, err := json.Marshal(next)
	if err != nil {
		t.Fatal(err)
	}
	var back State
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Pending) != len(acts) || back.Pending[0].Event.ID != acts[0].Event.ID ||
		back.Pending[1].Desired.Versions[1].Weight != 50 || back.Pending[1].Kind != SetWeights {
		t.Fatalf("pending after JSON: %+v", back.Pending)
	}
}
