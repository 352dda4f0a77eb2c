package server

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/api"
)

// An edit of an environment's protection in belay.yaml is audited before
// the next write, once, with what it was and what it became; a write the
// protection refuses is audited as a denial.
func TestPolicyChangesAndRefusalsAreAudited(t *testing.T) {
	r := newAuthRig(t)
	project := r.srv.d.ProjectFile
	b, err := os.ReadFile(project)
	if err != nil {
		t.Fatal(err)
	}
	protect := func(rule string) {
		t.Helper()
		out := strings.Replace(string(b), "  - name: production\n", "  - name: production\n    protection: "+rule+"\n", 1)
		if out == string(b) {
			t.Fatal("no production environment to protect")
		}
		if err := os.WriteFile(project, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	policy := func() (got []string) {
		for _, e := range r.audited() {
			if e.Action == "policy.change" {
				got = append(got, e.Subject+" "+string(e.Detail))
			}
		}
		return got
	}
	write := func() {
		t.Helper()
		if code, body := r.call(r.admin, "POST", "/api/v1/secrets/staging/API_KEY", api.SecretRequest{Value: "some-value-1"}); code != 200 {
			t.Fatalf("write: %d %s", code, body)
		}
	}
	write()
	if p := policy(); len(p) != 0 {
		t.Fatalf("no protection anywhere, yet %v", p)
	}
	protect("{require_approval: true, approvers: [alice]}")
	write()
	write()
	want := `policy/production {"environment":"production","before":null,"after":{"require_approval":true,"approvers":["alice"]}}`
	if p := policy(); len(p) != 1 || p[0] != want {
		t.Fatalf("policy changes %q; want once %q", p, want)
	}

	// The admin is not a listed approver: refused by the protection, audited.
	code, body := r.call(r.admin, "POST", "/api/v1/releases/1/approve", api.CommandRequest{Reason: "x", Env: "production"})
	if code != 403 {
		t.Fatalf("approve by a non-approver: %d %s", code, body)
	}
	var denied []string
	for _, e := range r.audited() {
		if e.Action == "denied.policy" {
			denied = append(denied, e.Actor+": "+e.Reason)
		}
	}
	if len(denied) != 1 || !strings.HasPrefix(denied[0], "admin: ") {
		t.Errorf("policy refusals audited: %q", denied)
	}

	protect("{require_approval: true, approvers: [alice, bob], approvals: 2}")
	write()
	p := policy()
	var d policyDetail
	if len(p) != 2 || json.Unmarshal([]byte(strings.TrimPrefix(p[1], "policy/production ")), &d) != nil ||
		string(d.Before) != `{"require_approval":true,"approvers":["alice"]}` || !strings.Contains(string(d.After), `"approvals":2`) {
		t.Errorf("second change: %q", p)
	}
}
