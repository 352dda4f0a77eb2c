package spec

import (
	"strings"
	"testing"
	"time"
)

func TestParsePercent(t *testing.T) {
	for in, want := range map[string]Percent{"5%": 0.05, "100%": 1, "0%": 0, "0.5%": 0.005, " 25 %": 0.25} {
		if got, err := ParsePercent(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"5", "101%", "-1%", "%", "abc%", "NaN%", "1e400%"} {
		if _, err := ParsePercent(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if s := Percent(0.05).String(); s != "5%" {
		t.Errorf("String %q", s)
	}
}

func TestDurationForms(t *testing.T) {
	p, err := ParseProject("d.yaml", []byte(`
services:
  api:
    run: {command: bin/api}
    health_check: {tcp: true, interval: 1m30s, timeout: 500ms, health_timeout: 2h}
    rollout: {strategy: all_at_once}
    rollback_trigger: [error_rate > 1%]
    rollback_action: deploy previous_stable
environments: [{name: production}]
`))
	if err != nil {
		t.Fatal(err)
	}
	h := p.Service("api").HealthCheck
	if h.Interval.D() != 90*time.Second || h.Timeout.D() != 500*time.Millisecond || h.HealthTimeout.D() != 2*time.Hour {
		t.Errorf("%+v", h)
	}
	if b, _ := h.Interval.MarshalJSON(); string(b) != `"1m30s"` {
		t.Errorf("json %s", b)
	}
	if !strings.Contains(DefaultHealthTimeout.String(), "1m0s") {
		t.Errorf("default %s", DefaultHealthTimeout)
	}
}
