package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/flag"
	"github.com/belay-dev/belay/internal/spec"
)

// diff shows each disagreement with who set the override and why, and
// says plainly when an override cannot apply; flags whose override agrees
// with belay.yaml, and flags without one, are left out.
func TestFlagsDiff(t *testing.T) {
	at := time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC)
	by := func(state spec.FlagState, variant string) *flag.Override {
		return &flag.Override{State: state, Variant: variant, Actor: "alice", Reason: "incident 42", At: at}
	}
	on := &flag.Setting{State: "ENABLED", Variant: "on"}
	vs := []api.FlagView{
		{Environment: "production", Key: "agrees", File: on, Override: by("ENABLED", "")},
		{Environment: "production", Key: "plain", File: on},
		{Environment: "production", Key: "checkout_v2", File: on, Override: by("DISABLED", "off"),
			Differences: []flag.Difference{{Field: "state", File: "ENABLED", Override: "DISABLED"}, {Field: "variant", File: "on", Override: "off"}}},
		{Environment: "staging", Key: "banner", File: on, Override: by("", "red"), State: "DISABLED",
			Problem: `the override pins variant "red", which belay.yaml no longer defines (variants: blue, green): the flag is served DISABLED`},
		{Environment: "staging", Key: "gone", Override: by("DISABLED", ""),
			Problem: "flag gone is no longer defined in belay.yaml: its override serves nothing; remove it with belay flags reset gone --env staging"},
	}
	diff := disagreeing(vs)
	if len(diff) != 3 || diff[0].Key != "checkout_v2" || diff[1].Key != "banner" || diff[2].Key != "gone" {
		t.Fatalf("disagreeing: %+v", diff)
	}
	var b strings.Builder
	if err := printDiff(&b, diff, overrides(vs)); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ENVIRONMENT FLAG FIELD BELAY.YAML OVERRIDE SET BY",
		"production checkout_v2 state ENABLED DISABLED alice 2026-05-12T10:00:00Z: incident 42",
		"production checkout_v2 variant on off alice 2026-05-12T10:00:00Z: incident 42",
		`staging banner: the override pins variant "red", which belay.yaml no longer defines (variants: blue, green): the flag is served DISABLED (set by alice 2026-05-12T10:00:00Z: incident 42)`,
		"staging gone: flag gone is no longer defined in belay.yaml: its override serves nothing; remove it with belay flags reset gone --env staging (set by alice 2026-05-12T10:00:00Z: incident 42)",
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	for i := range lines {
		if i < 3 {
			lines[i] = strings.Join(strings.Fields(lines[i]), " ")
		}
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("diff:\n%s\nwant (table spaces collapsed)\n%s", b.String(), strings.Join(want, "\n"))
	}

	b.Reset()
	if err := printDiff(&b, disagreeing(vs[:2]), overrides(vs[:2])); err != nil || b.String() != "overrides and belay.yaml agree (1 override)\n" {
		t.Errorf("agreeing: %q %v", b.String(), err)
	}
}

func TestFlagsListServes(t *testing.T) {
	file := &flag.Setting{State: "ENABLED", Split: true}
	for _, c := range []struct {
		v    api.FlagView
		want string
	}{
		{api.FlagView{State: "ENABLED", Variant: "on", File: file}, "ENABLED on"},
		{api.FlagView{State: "DISABLED", Variant: "on", File: file}, "DISABLED (code default)"},
		{api.FlagView{State: "ENABLED", Split: spec.Fractional{{Variant: "on", Percent: 10}, {Variant: "off", Percent: 90}}, File: file}, "ENABLED split on 10%, off 90%"},
		{api.FlagView{}, "-"},
	} {
		if got := served(c.v); got != c.want {
			t.Errorf("served(%+v) = %q, want %q", c.v, got, c.want)
		}
	}
}
