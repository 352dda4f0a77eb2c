package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/api"
)

// A stable version rolled back in a later environment is marked with where
// and when, and its note names the command that rolls the earlier
// environment back too, or says why there is none.
func TestStatusMarksAVersionRolledBackLater(t *testing.T) {
	now := time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC)
	at := now.Add(-12*time.Minute - 30*time.Second)
	rejected := func(policy, to string) api.EnvStatus {
		return api.EnvStatus{Environment: "staging", Stable: "api-v4", Rejected: true, OnRejected: policy,
			RejectedIn: "production", RejectedAt: &at, RejectedRollout: 8, RollbackTo: to}
	}
	for _, c := range []struct {
		name      string
		env       api.EnvStatus
		row, note string
	}{
		{"keep", rejected("keep", "api-v3"),
			"api staging api-v4 (rolled back in production 12 min ago) - -",
			"api in staging runs api-v4, which was rolled back in production 12 min ago (why: `belay explain 8`); " +
				"on_rejected_downstream: keep, so staging keeps it. To roll staging back to api-v3 too: `belay rollback api --env staging --reason …`"},
		{"rollback", rejected("rollback", "api-v3"),
			"api staging api-v4 (rolled back in production 12 min ago) - -",
			"api in staging runs api-v4, which was rolled back in production 12 min ago (why: `belay explain 8`); " +
				"on_rejected_downstream: rollback, so belay rolls staging back to api-v3 by itself"},
		{"nothing earlier", rejected("keep", ""),
			"api staging api-v4 (rolled back in production 12 min ago) - -",
			"api in staging runs api-v4, which was rolled back in production 12 min ago (why: `belay explain 8`); " +
				"staging has no earlier stable version that was never rolled back: release a fixed version, or name one with " +
				"`belay rollback api --env staging --to <version> --force --reason …`"},
		{"a server that does not say where", api.EnvStatus{Environment: "staging", Stable: "api-v4", Rejected: true, OnRejected: "keep", RollbackTo: "api-v3"},
			"api staging api-v4 (rolled back elsewhere) - -",
			"api in staging runs api-v4, which was rolled back elsewhere; " +
				"on_rejected_downstream: keep, so staging keeps it. To roll staging back to api-v3 too: `belay rollback api --env staging --reason …`"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			st := []api.ServiceStatus{{Service: "api", Environments: []api.EnvStatus{c.env}}}
			if err := printStatus(&b, st, now); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
			if len(lines) != 3 || strings.Join(strings.Fields(lines[1]), " ") != c.row || lines[2] != c.note {
				t.Fatalf("status:\n%s\nwant row (spaces collapsed)\n%s\nand note\n%s", b.String(), c.row, c.note)
			}
		})
	}
}
