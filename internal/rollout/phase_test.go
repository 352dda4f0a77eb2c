package rollout

import "testing"

func TestTerminal(t *testing.T) {
	for _, p := range []Phase{Pending, AwaitingApproval, Verifying, Migrating, Deploying, SmokeTesting, Canary, Promoting, Paused, RollingBack} {
		if p.Terminal() {
			t.Errorf("%s is terminal", p)
		}
	}
	for _, p := range []Phase{Succeeded, RolledBack, Failed} {
		if !p.Terminal() {
			t.Errorf("%s is not terminal", p)
		}
	}
}
