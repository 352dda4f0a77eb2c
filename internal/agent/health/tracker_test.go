package health

import "testing"

func TestTracker(t *testing.T) {
	tr := Tracker{Threshold: 2}
	steps := []struct {
		ok      bool
		change  Change
		counted bool
	}{
		{false, None, false}, // starting up: not counted
		{true, Ready, false},
		{false, None, true},
		{true, None, false}, // a success resets the run
		{false, None, true},
		{false, Unhealthy, true},
		{false, None, false}, // ejected: waiting for a restart, not counted again
		{true, Ready, false},
	}
	for i, s := range steps {
		c, counted := tr.Observe(s.ok)
		if c != s.change || counted != s.counted {
			t.Fatalf("step %d ok=%v: got (%v,%v), want (%v,%v)", i, s.ok, c, counted, s.change, s.counted)
		}
	}
	tr.Reset()
	if tr.Ready() {
		t.Fatal("ready after reset")
	}
}
