package orchestrate

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/rollout"
)

// A bad canary's rollback runs rollback_action in order: the kill switch is
// turned off (a persisted override, audited with the rollout as the actor,
// in the release's timeline) before traffic returns to the previous stable.
func TestRollbackDisablesFlagsFirst(t *testing.T) {
	h := newHarness(t, "")
	b, _ := os.ReadFile(h.file)
	text := strings.Replace(string(b), "rollback_action: deploy previous_stable", "rollback_action: [disable_flag checkout_v2, deploy previous_stable]", 1)
	text += "flags:\n  checkout_v2: {kind: kill_switch, variants: {on: true, off: false}, defaultVariant: on}\n"
	if err := os.WriteFile(h.file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	h.settled(h.release("api-v1").Release)
	ans := h.release("api-v2")
	h.judge(func(s rollout.State) analysis.Decision {
		if s.Environment == "production" {
			return analysis.Fail
		}
		return analysis.Pass
	})
	if v := h.settled(ans.Release); v.Outcome != api.OutcomeRolledBack || h.weights("production") != "api-v1=100" {
		t.Fatalf("%s (%s); weights %s", v.Outcome, v.Reason, h.weights("production"))
	}
	ovs, err := h.st.FlagOverrides(h.ctx, "production")
	if err != nil || len(ovs) != 1 || ovs[0].Flag != "checkout_v2" || ovs[0].State != "DISABLED" || !strings.HasPrefix(ovs[0].Actor, "rollout/") {
		t.Fatalf("overrides %+v, %v", ovs, err)
	}
	if staging, _ := h.st.FlagOverrides(h.ctx, "staging"); len(staging) != 0 {
		t.Errorf("staging's flag changed too: %+v", staging)
	}
	// Audited under the rollout.
	es, _ := h.st.AuditSince(h.ctx, 0, 10000)
	audited := false
	for _, e := range es {
		audited = audited || e.Action == "flag.disable" && e.Actor == ovs[0].Actor && e.Subject == "flag/production/checkout_v2"
	}
	if !audited {
		t.Errorf("no flag.disable entry by %s", ovs[0].Actor)
	}
	evs, _ := h.st.EventsSince(h.ctx, 0, 10000)
	// In the release's timeline, before the rollback's end.
	flagAt, endAt := -1, -1
	for i, e := range evs {
		data := string(e.Data)
		switch {
		case strings.Contains(data, `"event":"`+event.FlagChanged+`"`) && strings.Contains(data, `"release":"`+strconv.FormatInt(ans.Release, 10)+`"`):
			flagAt = i
		case strings.Contains(data, `"event":"`+event.DeploymentRolledBack+`"`) && strings.Contains(data, `"environment":"production"`):
			endAt = i
		}
	}
	if flagAt < 0 || endAt < flagAt {
		t.Errorf("flag_changed at %d, deployment_rolled_back at %d: want the flag first", flagAt, endAt)
	}
}
