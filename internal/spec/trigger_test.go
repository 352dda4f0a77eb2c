package spec

import (
	"testing"
	"time"
)

func TestParseTriggerSeed(t *testing.T) {
	cases := []struct {
		in   string
		want Trigger
	}{
		{"error_rate > 1% for 5m", Trigger{Metric: ErrorRate, Op: GT, Value: 0.01, For: 5 * time.Minute}},
		{"p95_latency > 900ms for 10m", Trigger{Metric: P95Latency, Op: GT, Value: 0.9, For: 10 * time.Minute}},
		{"health_check_failures > 3", Trigger{Metric: HealthCheckFailures, Op: GT, Value: 3}},
		{"p95_latency > baseline + 20%", Trigger{Metric: P95Latency, Op: GT, Relative: true, Margin: 0.2}},
	}
	for _, c := range cases {
		got, err := ParseTrigger(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		c.want.Raw = c.in
		if got != c.want {
			t.Errorf("%q: got %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestParseTriggerErrors(t *testing.T) {
	for in, want := range map[string]string{
		"eror_rate > 1%":         `invalid rollback trigger "eror_rate > 1%": unknown metric "eror_rate" (did you mean "error_rate"?); known metrics: error_rate, p50_latency, p90_latency, p95_latency, p99_latency, health_check_failures, restarts`,
		"error_rate => 1%":       `invalid rollback trigger "error_rate => 1%": unknown comparator "=>": use >, >=, < or <=`,
		"error_rate > 101%":      `invalid rollback trigger "error_rate > 101%": value "101%" is outside 0%..100%`,
		"p95_latency > 900":      `invalid rollback trigger "p95_latency > 900": value "900" needs a time unit: ms, s or m, e.g. 900ms`,
		"error_rate > 1% for 5x": `invalid rollback trigger "error_rate > 1% for 5x": bad duration "5x" after "for": use a positive duration such as 30s, 5m or 1h`,
	} {
		_, err := ParseTrigger(in)
		if err == nil || err.Error() != want {
			t.Errorf("%q:\n got %v\nwant %s", in, err, want)
		}
	}
}
