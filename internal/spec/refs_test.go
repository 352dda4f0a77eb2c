package spec

import (
	"strings"
	"testing"
)

func TestMatchRefPattern(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"main", "main", true},
		{"main", "main2", false},
		{"main", "xmain", false},
		{"release/*", "release/1.2", true},
		{"release/*", "release/1.2/hotfix", false}, // * stays within a segment
		{"release/*", "release/", true},
		{"release/*", "releases/1", false},
		{"release/**", "release/1.2/hotfix", true}, // ** crosses /
		{"**", "feature/a/b", true},
		{"*", "feature/a", false},
		{"v*", "v1.2.0", true},
		{"v*", "1.2.0", false},
		{"v?.*", "v1.2", true},
		{"v?.*", "v10.2", false},
		{"v1.2", "v1x2", false}, // . is literal
		{"a+b", "a+b", true},
		{"a+b", "aab", false},
		{"**/prod", "team/x/prod", true},
		{"**/prod", "prod", false},
		{"[ab]", "a", false}, // invalid: matches nothing
	} {
		if got := MatchRefPattern(c.pattern, c.name); got != c.want {
			t.Errorf("MatchRefPattern(%q, %q) = %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
}

// A branch pattern matches only refs/heads/…, a tag pattern only refs/tags/….
func TestAllowsRef(t *testing.T) {
	p := &Protection{Branches: []string{"main", "release/*"}, Tags: []string{"v*"}}
	for ref, want := range map[string]bool{
		"refs/heads/main":          true,
		"refs/heads/release/2":     true,
		"refs/heads/feature-x":     false,
		"refs/heads/v1.0.0":        false, // a branch named like a tag
		"refs/tags/v1.0.0":         true,
		"refs/tags/main":           false, // a tag named like a branch
		"refs/remotes/origin/main": false,
		"main":                     false,
		"":                         false,
	} {
		if got := p.AllowsRef(ref); got != want {
			t.Errorf("AllowsRef(%q) = %v, want %v", ref, got, want)
		}
	}
	if !p.RestrictsRefs() || (&Protection{RequireApproval: true}).RestrictsRefs() || (*Protection)(nil).RestrictsRefs() {
		t.Error("RestrictsRefs: only a protection with branches or tags restricts refs")
	}
	if (*Protection)(nil).AllowsRef("refs/heads/main") {
		t.Error("no protection block allows no ref by pattern")
	}
}

func TestRefPatternErrors(t *testing.T) {
	for pattern, want := range map[string]string{
		"":                "an empty pattern",
		" ":               "an empty pattern",
		"refs/heads/main": `full ref name: write the branch or tag name without refs/heads/ or refs/tags/, e.g. "main"`,
		"refs/tags/v*":    `e.g. "v*"`,
		"v***":            "not ***",
		"v[0-9]*":         "character classes",
		"/main":           "neither starts nor ends with /",
		"release/":        "neither starts nor ends with /",
		"a//b":            "nor holds //",
		"a..b":            "never holds ..",
		"a@{1}":           "never holds .. or @{",
		"my branch":       `' ' can never be`,
		"a:b":             `':' can never be`,
		"a~1":             `'~' can never be`,
	} {
		_, err := refPatternRE(pattern)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("pattern %q: got %v, want an error with %q", pattern, err, want)
		}
	}
	for _, ok := range []string{"main", "release/*", "release/**", "v*", "v?.?", "feat/x-1_2.3+y"} {
		if _, err := refPatternRE(ok); err != nil {
			t.Errorf("pattern %q refused: %v", ok, err)
		}
	}
}

// Branches and tags load without require_approval: the rule stands alone.
func TestRefRulesLoad(t *testing.T) {
	doc := `services:
  api:
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger:
      - error_rate > 1% for 5m
    rollback_action: deploy previous_stable
environments:
  - name: staging
  - name: production
    protection: {branches: [main, "release/*"], tags: ["v*"]}
`
	d, err := Parse("belay.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	p := d.Project
	pr := p.Environment("production").Protection
	if !pr.RestrictsRefs() || pr.RequireApproval || p.Environment("production").Protected() {
		t.Fatalf("protection: %+v", pr)
	}
	if !pr.AllowsRef("refs/heads/release/7") || pr.AllowsRef("refs/heads/feature-x") {
		t.Fatalf("patterns not applied: %+v", pr)
	}
}
