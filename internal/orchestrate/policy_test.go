package orchestrate

import (
	"errors"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/spec"
)

func TestRefPolicy(t *testing.T) {
	both := &spec.Protection{Branches: []string{"main", "release/*"}, Tags: []string{"v*"}}
	for _, c := range []struct {
		name string
		pr   *spec.Protection
		refs []string
		want string // "" admits
	}{
		{"no protection", nil, nil, ""},
		{"approvals only", &spec.Protection{RequireApproval: true}, nil, ""},
		{"main", both, []string{"refs/heads/main"}, ""},
		{"a release branch", both, []string{"refs/heads/release/3"}, ""},
		{"a tag on a feature branch", both, []string{"refs/heads/feature-x", "refs/tags/v1.0.0"}, ""},
		{"a feature branch", both, []string{"refs/heads/feature-x"},
			"api-v1 was built from refs/heads/feature-x; production accepts branches [main, release/*] and tags [v*]: build from main or release/*, or tag the commit (v*) and build it again"},
		{"a branch named like a tag", &spec.Protection{Tags: []string{"v*"}}, []string{"refs/heads/v1.0.0"},
			"api-v1 was built from refs/heads/v1.0.0; production accepts tags [v*]: tag the commit (v*) and build it again"},
		{"a tag named like a branch", &spec.Protection{Branches: []string{"main"}}, []string{"refs/tags/main"},
			"api-v1 was built from refs/tags/main; production accepts branches [main]: build from main"},
		{"no refs", &spec.Protection{Branches: []string{"main"}}, nil,
			"api-v1 was built without a branch or tag (a detached commit, or uncommitted changes); production accepts branches [main]: build from main"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := refPolicy("production", c.pr, "api-v1", c.refs)
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrPolicy) || err.Error() != ErrPolicy.Error()+": "+c.want {
				t.Fatalf("got %v\nwant %s", err, c.want)
			}
		})
	}
}

// The rule holds where a release enters production, by promotion or named
// as its entry, and nowhere else: staging has none. A release whose
// artifact production refuses ends in its queue, with the reason audited.
func TestRefRuleAtPromotionAndEntry(t *testing.T) {
	h := newHarness(t, "")
	h.protect("      branches: [main]\n      tags: [\"v*\"]\n")
	h.refs["api-v1"] = []string{"refs/heads/feature-x"}
	h.refs["api-v3"] = []string{"refs/heads/feature-x", "refs/tags/v1.0.0"}

	ans := h.release("api-v1")
	v := h.settled(ans.Release)
	if v.Outcome != api.OutcomeCancelled || h.stable("staging") != "api-v1" || h.stable("production") != "" {
		t.Fatalf("feature build: outcome %s, staging %q, production %q", v.Outcome, h.stable("staging"), h.stable("production"))
	}
	const why = "not allowed by the environment's protection: api-v1 was built from refs/heads/feature-x; production accepts branches [main] and tags [v*]: build from main, or tag the commit (v*) and build it again"
	if len(v.Queue) != 1 || v.Queue[0].State != "cancelled" || v.Queue[0].Reason != "cannot start in production: "+why {
		t.Fatalf("queue: %+v", v.Queue)
	}
	if len(v.Rollouts) != 1 {
		t.Fatalf("a rollout started in production: %+v", v.Rollouts)
	}
	audit, err := h.st.AuditSince(h.ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(audit); n == 0 || audit[n-1].Action != "queue.cancel" || !strings.Contains(audit[n-1].Reason, why) {
		t.Fatalf("audit: %+v", audit)
	}

	// Named as the entry environment (staging already runs it as stable).
	_, err = h.o.Release(h.ctx, api.ReleaseRequest{Service: "api", Version: "api-v1", Environment: "production", Owner: "ann"})
	if !errors.Is(err, ErrPolicy) || err.Error() != why {
		t.Fatalf("entering production: %v", err)
	}

	// Built from main: admitted; then a tagged commit, from a feature branch.
	h.refs["api-v2"] = []string{"refs/heads/main"}
	for _, ver := range []string{"api-v2", "api-v3"} {
		ans = h.release(ver)
		if v := h.settled(ans.Release); v.Outcome != api.OutcomeSucceeded || h.stable("production") != ver {
			t.Fatalf("%s: outcome %s (%s), production %q", ver, v.Outcome, v.Reason, h.stable("production"))
		}
	}
}

// An artifact without recorded refs is refused where a rule applies, even
// as the first release into that environment.
func TestRefRuleWithoutRefs(t *testing.T) {
	h := newHarness(t, "    protection: {branches: [main]}\n")
	_, err := h.o.Release(h.ctx, api.ReleaseRequest{Service: "api", Version: "api-v4", Owner: "ann"})
	if !errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), "api-v4 was built without a branch or tag") || !strings.Contains(err.Error(), "staging accepts branches [main]") {
		t.Fatalf("release without refs: %v", err)
	}
	if _, err := h.st.GetRelease(h.ctx, 1); err == nil {
		t.Fatal("a refused release was recorded")
	}
}
