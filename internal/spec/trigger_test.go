package spec

import (
	"errors"
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

func TestParseTriggerForms(t *testing.T) {
	cases := []struct {
		in   string
		want Trigger
	}{
		{"error_rate>1%", Trigger{Metric: ErrorRate, Op: GT, Value: 0.01}},
		{"  error_rate   >=  0.5%   for 30s ", Trigger{Metric: ErrorRate, Op: GE, Value: 0.005, For: 30 * time.Second}},
		{"p99_latency <= 1.5s", Trigger{Metric: P99Latency, Op: LE, Value: 1.5}},
		{"p50_latency < 2m", Trigger{Metric: P50Latency, Op: LT, Value: 120}},
		{"p90_latency > baseline+50% for 1m", Trigger{Metric: P90Latency, Op: GT, Relative: true, Margin: 0.5, For: time.Minute}},
		{"p95_latency > baseline", Trigger{Metric: P95Latency, Op: GT, Relative: true}},
		{"error_rate > baseline + 100%", Trigger{Metric: ErrorRate, Op: GT, Relative: true, Margin: 1}},
		{"restarts >= 2", Trigger{Metric: Restarts, Op: GE, Value: 2}},
		{"error_rate > 0%", Trigger{Metric: ErrorRate, Op: GT, Value: 0}},
		{"p95_latency > 0.9s", Trigger{Metric: P95Latency, Op: GT, Value: 0.9}},
	}
	for _, c := range cases {
		got, err := ParseTrigger(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		got.Raw = ""
		if got != c.want {
			t.Errorf("%q: got %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestParseTriggerMoreErrors(t *testing.T) {
	for in, want := range map[string]string{
		"":                                 `invalid rollback trigger "": expected "<metric> <op> <value> [for <duration>]", e.g. "error_rate > 1% for 5m"`,
		"error_rate 1% for 5m":             `invalid rollback trigger "error_rate 1% for 5m": unknown comparator "1%": use >, >=, < or <=`,
		"error-rate > 1%":                  `invalid rollback trigger "error-rate > 1%": unknown metric "error-rate" (did you mean "error_rate"?); known metrics: error_rate, p50_latency, p90_latency, p95_latency, p99_latency, health_check_failures, restarts`,
		"error_rate == 1%":                 `invalid rollback trigger "error_rate == 1%": unknown comparator "==": use >, >=, < or <=`,
		"error_rate > 1% for":              `invalid rollback trigger "error_rate > 1% for": "for" must be followed by exactly one duration at the end, e.g. "for 5m"`,
		"error_rate > for 5m":              `invalid rollback trigger "error_rate > for 5m": missing value after ">"`,
		"error_rate > 1% 2%":               `invalid rollback trigger "error_rate > 1% 2%": unexpected "2%" after the value; only "for <duration>" may follow`,
		"error_rate > 1% for 0s":           `invalid rollback trigger "error_rate > 1% for 0s": bad duration "0s" after "for": use a positive duration such as 30s, 5m or 1h`,
		"error_rate > NaN%":                `invalid rollback trigger "error_rate > NaN%": value "NaN%" is not a number followed by %`,
		"error_rate > 1":                   `invalid rollback trigger "error_rate > 1": value "1" needs a % unit, e.g. 1%`,
		"p95_latency > -1s":                `invalid rollback trigger "p95_latency > -1s": value "-1s" is not a non-negative number followed by ms, s or m`,
		"p95_latency > 1h":                 `invalid rollback trigger "p95_latency > 1h": value "1h" needs a time unit: ms, s or m, e.g. 900ms`,
		"health_check_failures > 2.5":      `invalid rollback trigger "health_check_failures > 2.5": value "2.5" must be a whole number with no unit, e.g. 3`,
		"health_check_failures > baseline": `invalid rollback trigger "health_check_failures > baseline": health_check_failures cannot be compared with a baseline; give a count`,
		"p95_latency > baseline - 20%":     `invalid rollback trigger "p95_latency > baseline - 20%": after "baseline" expected "+ N%", e.g. "p95_latency > baseline + 20%"`,
		"p95_latency > baseline + 2000%":   `invalid rollback trigger "p95_latency > baseline + 2000%": bad margin "2000%": use a percentage between 0% and 1000%, e.g. "baseline + 20%"`,
	} {
		_, err := ParseTrigger(in)
		if err == nil || err.Error() != want {
			t.Errorf("%q:\n got %v\nwant %s", in, err, want)
		}
		if err != nil && !errors.Is(err, ErrTrigger) {
			t.Errorf("%q: error does not wrap ErrTrigger", in)
		}
	}
}

// A trigger's threshold is its value, or the baseline scaled by the margin.
func TestTriggerThresholdAndHolds(t *testing.T) {
	abs, _ := ParseTrigger("error_rate > 1%")
	rel, _ := ParseTrigger("p95_latency > baseline + 20%")
	if abs.Threshold(0.5) != 0.01 || rel.Threshold(0.5) != 0.6 {
		t.Errorf("thresholds %v %v", abs.Threshold(0.5), rel.Threshold(0.5))
	}
	if !GT.Holds(2, 1) || GT.Holds(1, 1) || !GE.Holds(1, 1) || !LT.Holds(0, 1) || !LE.Holds(1, 1) || LE.Holds(2, 1) || Comparator("?").Holds(1, 0) {
		t.Error("Holds is wrong")
	}
}
