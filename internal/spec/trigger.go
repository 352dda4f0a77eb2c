package spec

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// ErrTrigger marks a rollback_trigger line that does not parse.
var ErrTrigger = errors.New("invalid rollback trigger")

// Metric names a signal a trigger watches.
type Metric string

// The metrics a trigger may name. Latency metrics are quantiles of request
// duration; counts are cumulative over the rollout step.
const (
	ErrorRate           Metric = "error_rate"            // fraction of requests answered 5xx or failed in the proxy
	P50Latency          Metric = "p50_latency"           // seconds
	P90Latency          Metric = "p90_latency"           // seconds
	P95Latency          Metric = "p95_latency"           // seconds
	P99Latency          Metric = "p99_latency"           // seconds
	HealthCheckFailures Metric = "health_check_failures" // count
	Restarts            Metric = "restarts"              // count of instance restarts
)

// Kind says how a metric's numbers are written.
type Kind int

// Metric kinds.
const (
	KindRatio    Kind = iota // written as a percentage: 1%, 0.5%
	KindDuration             // written with a time unit: 900ms, 1.5s
	KindCount                // a plain number: 3
)

var metricKinds = map[Metric]Kind{
	ErrorRate: KindRatio, P50Latency: KindDuration, P90Latency: KindDuration,
	P95Latency: KindDuration, P99Latency: KindDuration,
	HealthCheckFailures: KindCount, Restarts: KindCount,
}

// Metrics lists the known metric names, for messages and the schema.
func Metrics() []string {
	return []string{string(ErrorRate), string(P50Latency), string(P90Latency), string(P95Latency),
		string(P99Latency), string(HealthCheckFailures), string(Restarts)}
}

// KindOf reports how m's values are written and whether m is known.
func KindOf(m Metric) (Kind, bool) { k, ok := metricKinds[m]; return k, ok }

// Comparator is a trigger's comparison.
type Comparator string

// Comparators a trigger may use. A trigger fires when "metric op value" holds.
const (
	GT Comparator = ">"
	GE Comparator = ">="
	LT Comparator = "<"
	LE Comparator = "<="
)

// Holds reports whether "x op y" is true.
func (c Comparator) Holds(x, y float64) bool {
	switch c {
	case GT:
		return x > y
	case GE:
		return x >= y
	case LT:
		return x < y
	case LE:
		return x <= y
	}
	return false
}

// Trigger is one parsed rollback_trigger line, e.g. "error_rate > 1% for 5m"
// or "p95_latency > baseline + 20%".
type Trigger struct {
	Raw    string     `json:"raw"`
	Metric Metric     `json:"metric"`
	Op     Comparator `json:"op"`
	// Value is the absolute threshold in base units: a fraction for ratios
	// (1% is 0.01), seconds for durations, a count for counts. Unused when
	// Relative is set.
	Value float64 `json:"value"`
	// Relative triggers compare with the stable version's value of the same
	// metric: threshold = baseline × (1 + Margin). Margin 0.2 is "+ 20%".
	Relative bool    `json:"relative,omitempty"`
	Margin   float64 `json:"margin,omitempty"`
	// For is how long the condition must hold before the trigger fires
	// (Prometheus `for` semantics); zero fires on the first true evaluation.
	For time.Duration `json:"for,omitempty"`

	// pending marks a line naming a metric that is not built in, parsed
	// again once the metrics: in scope are known (see resolveTriggers);
	// at is its field path.
	pending bool
	at      string
}

// Threshold returns the value the metric is compared with, given the stable
// version's value of the same metric (used only by relative triggers).
func (t Trigger) Threshold(baseline float64) float64 {
	if t.Relative {
		return baseline * (1 + t.Margin)
	}
	return t.Value
}

func (t Trigger) String() string { return t.Raw }

// ParseTrigger parses one line of the seed's trigger grammar:
//
//	metric op value [for duration]
//	metric op baseline [+ N%] [for duration]
//
// where op is one of > >= < <=, a ratio is written with %, a latency with ms,
// s or m, and a count as a plain integer. Spaces around op and "+" may be
// left out ("error_rate>1%").
func ParseTrigger(s string) (Trigger, error) { return ParseTriggerWith(s, nil) }

// ParseTriggerWith is ParseTrigger that also knows the named metrics of
// belay.yaml's metrics: (name → kind); a built-in name wins.
func ParseTriggerWith(s string, named map[string]Kind) (Trigger, error) {
	t := Trigger{Raw: strings.TrimSpace(s)}
	fields := lex(t.Raw)
	if len(fields) < 3 {
		return t, fmt.Errorf("%w %q: expected \"<metric> <op> <value> [for <duration>]\", e.g. \"error_rate > 1%% for 5m\"", ErrTrigger, t.Raw)
	}
	t.Metric = Metric(fields[0])
	kind, ok := KindOf(t.Metric)
	if !ok {
		kind, ok = named[fields[0]]
	}
	if !ok {
		known := append(Metrics(), slices.Sorted(maps.Keys(named))...)
		return t, fmt.Errorf("%w %q: unknown metric %q%s; known metrics: %s%s", ErrTrigger, t.Raw, fields[0], suggestMetric(fields[0], known), strings.Join(known, ", "), declareHint(fields[0]))
	}
	switch op := Comparator(fields[1]); op {
	case GT, GE, LT, LE:
		t.Op = op
	default:
		return t, fmt.Errorf("%w %q: unknown comparator %q: use >, >=, < or <=", ErrTrigger, t.Raw, fields[1])
	}
	rest := fields[2:]
	if i := indexOf(rest, "for"); i >= 0 {
		if i != len(rest)-2 {
			return t, fmt.Errorf("%w %q: \"for\" must be followed by exactly one duration at the end, e.g. \"for 5m\"", ErrTrigger, t.Raw)
		}
		d, err := time.ParseDuration(rest[i+1])
		if err != nil || d <= 0 {
			return t, fmt.Errorf("%w %q: bad duration %q after \"for\": use a positive duration such as 30s, 5m or 1h", ErrTrigger, t.Raw, rest[i+1])
		}
		t.For = d
		rest = rest[:i]
	}
	if len(rest) == 0 {
		return t, fmt.Errorf("%w %q: missing value after %q", ErrTrigger, t.Raw, t.Op)
	}
	if rest[0] == "baseline" {
		return t, t.parseRelative(rest[1:])
	}
	if len(rest) != 1 {
		return t, fmt.Errorf("%w %q: unexpected %q after the value; only \"for <duration>\" may follow", ErrTrigger, t.Raw, strings.Join(rest[1:], " "))
	}
	v, err := parseValue(kind, rest[0])
	if err != nil {
		return t, fmt.Errorf("%w %q: %v", ErrTrigger, t.Raw, err)
	}
	t.Value = v
	return t, nil
}

func (t *Trigger) parseRelative(rest []string) error {
	if t.Metric == HealthCheckFailures || t.Metric == Restarts {
		return fmt.Errorf("%w %q: %s cannot be compared with a baseline; give a count", ErrTrigger, t.Raw, t.Metric)
	}
	t.Relative = true
	switch {
	case len(rest) == 0:
		return nil
	case len(rest) == 2 && rest[0] == "+" && strings.HasSuffix(rest[1], "%"):
		p, err := strconv.ParseFloat(strings.TrimSuffix(rest[1], "%"), 64)
		if err != nil || p < 0 || p > 1000 {
			return fmt.Errorf("%w %q: bad margin %q: use a percentage between 0%% and 1000%%, e.g. \"baseline + 20%%\"", ErrTrigger, t.Raw, rest[1])
		}
		t.Margin = p / 100
		return nil
	}
	return fmt.Errorf("%w %q: after \"baseline\" expected \"+ N%%\", e.g. \"p95_latency > baseline + 20%%\"", ErrTrigger, t.Raw)
}

func parseValue(kind Kind, s string) (float64, error) {
	switch kind {
	case KindRatio:
		num, ok := strings.CutSuffix(s, "%")
		if !ok {
			return 0, fmt.Errorf("value %q needs a %% unit, e.g. 1%%", s)
		}
		p, err := strconv.ParseFloat(num, 64)
		if err != nil || p != p {
			return 0, fmt.Errorf("value %q is not a number followed by %%", s)
		}
		if p < 0 || p > 100 {
			return 0, fmt.Errorf("value %q is outside 0%%..100%%", s)
		}
		return p / 100, nil
	case KindDuration:
		for _, u := range []string{"ms", "s", "m"} {
			if num, ok := strings.CutSuffix(s, u); ok {
				if u == "s" && strings.HasSuffix(num, "m") {
					continue
				}
				v, err := strconv.ParseFloat(num, 64)
				if err != nil || v < 0 || v != v || v > 1e9 {
					return 0, fmt.Errorf("value %q is not a non-negative number followed by ms, s or m", s)
				}
				return v * map[string]float64{"ms": 1e-3, "s": 1, "m": 60}[u], nil
			}
		}
		return 0, fmt.Errorf("value %q needs a time unit: ms, s or m, e.g. 900ms", s)
	default:
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("value %q must be a whole number with no unit, e.g. 3", s)
		}
		return float64(n), nil
	}
}

// suggestMetric is suggest, plus the quantiles for a bare "latency".
func suggestMetric(m string, known []string) string {
	if s := suggest(m, known); s != "" {
		return s
	}
	if strings.HasSuffix(m, "latency") {
		return ` (did you mean a quantile such as "p95_latency"?)`
	}
	return ""
}

// TriggerMetric is the metric name a trigger line starts with, as
// ParseTrigger reads it ("" for an empty line).
func TriggerMetric(s string) string {
	if f := lex(strings.TrimSpace(s)); len(f) > 0 {
		return f[0]
	}
	return ""
}

// declareHint tells how to define a metric that is not a misspelling of
// a known one.
func declareHint(m string) string {
	if !metricNameRE.MatchString(m) || suggest(m, Metrics()) != "" || strings.HasSuffix(m, "latency") {
		return ""
	}
	return "; or declare it under metrics: with a PromQL query and its kind, e.g. metrics: {" + m + ": {query: '...', kind: count}}"
}

// lex splits a trigger line into metric, comparator and the remaining words,
// so that "error_rate>1%" and "p95_latency > baseline+20%" read like their
// spaced forms.
func lex(s string) []string {
	isOp := func(r rune) bool { return strings.ContainsRune("<>=!", r) }
	i := strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || isOp(r) })
	if i < 0 {
		return strings.Fields(s)
	}
	metric, rest := s[:i], strings.TrimLeftFunc(s[i:], unicode.IsSpace)
	j := strings.IndexFunc(rest, func(r rune) bool { return !isOp(r) })
	if j < 0 {
		j = len(rest)
	}
	op, rest := rest[:j], rest[j:]
	out := []string{metric}
	if op != "" {
		out = append(out, op)
	}
	if strings.HasPrefix(strings.TrimSpace(rest), "baseline") {
		rest = strings.ReplaceAll(rest, "+", " + ")
	}
	return append(out, strings.Fields(rest)...)
}

func indexOf(xs []string, s string) int {
	for i, x := range xs {
		if x == s {
			return i
		}
	}
	return -1
}
