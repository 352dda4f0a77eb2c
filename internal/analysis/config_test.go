package analysis

import (
	"testing"

	"github.com/belay-dev/belay/internal/spec"
)

// Every policy belay.yaml accepts maps onto a distinct analysis policy of
// the same name: the one mapping between the spec's enum and the domain's.
func TestPolicyOfIsExhaustive(t *testing.T) {
	for _, v := range []spec.InconclusivePolicy{spec.InconclusiveExtend, spec.InconclusivePause, spec.InconclusiveRollback} {
		got, err := PolicyOf(v)
		if err != nil || string(got) != string(v) {
			t.Errorf("%s: %q %v", v, got, err)
		}
	}
	if len(policies) != 3 {
		t.Errorf("%d policies mapped; add the new one to the test", len(policies))
	}
	if _, err := PolicyOf("sometimes"); err == nil {
		t.Error("an unknown policy was mapped")
	}
	if p, err := PolicyOf(""); p != "" || err != nil {
		t.Errorf("unset: %q %v", p, err)
	}
}
