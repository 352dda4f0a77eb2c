package spec

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// SLO is a service's availability objective: the share of its answers that
// are not 5xx (nor failed in the proxy), over a rolling window, in each
// environment. belay slo reports its error budget and burn rates, belay slo
// rules writes Prometheus rules for it, and a fast burn during a rollout or
// its watch rolls the rollout back (docs/slo.md).
type SLO struct {
	// Objective is the share of good answers promised, e.g. 99.9%; above
	// 0% and below 100% (100% leaves no error budget).
	Objective Objective `yaml:"objective" json:"objective" belay:"required"`
	// Window is the rolling period the objective holds over; default 30d,
	// at least 3d (the longest burn-rate window).
	Window SLOWindow `yaml:"window" json:"window,omitempty"`
}

// SLO bounds and defaults.
const (
	DefaultSLOWindow = SLOWindow(30 * 24 * time.Hour)
	// MinSLOWindow is the longest burn-rate window (the 3d ticket pair):
	// an SLO shorter than it could not be judged by its own alerts.
	MinSLOWindow = SLOWindow(3 * 24 * time.Hour)
	// MaxSLOWindow keeps the window within what a store or Prometheus keeps.
	MaxSLOWindow = SLOWindow(90 * 24 * time.Hour)
)

// Effective returns the SLO with its default window filled in.
func (s SLO) Effective() SLO {
	if s.Window == 0 {
		s.Window = DefaultSLOWindow
	}
	return s
}

// Objective is a share of good answers, written as a percentage ("99.9%");
// its value is the fraction (0.999).
type Objective float64

// Budget is the allowed bad fraction, 1 − objective, rounded to 12
// decimals (99.9 % allows exactly 0.1 %).
func (o Objective) Budget() float64 { return math.Round((1-float64(o))*1e12) / 1e12 }

func (o Objective) String() string { return Percent(o).String() }

// MarshalJSON writes the objective as it is written in YAML.
func (o Objective) MarshalJSON() ([]byte, error) { return json.Marshal(o.String()) }

func (o *Objective) decodeNode(dec *decoder, n *yaml.Node, path string) {
	const hint = "write a percentage above 0% and below 100%, e.g. 99.9%"
	if n.Kind != yaml.ScalarNode || isNull(n) {
		dec.errorf(n, path, "expected an objective such as 99.9%%, got %s", describe(n))
		return
	}
	raw := strings.TrimSpace(n.Value)
	if _, err := strconv.ParseFloat(raw, 64); err == nil {
		dec.errorf(n, path, "objective %s needs a %% sign: write %s%%", raw, raw)
		return
	}
	num, _ := strings.CutSuffix(raw, "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	switch {
	case !strings.HasSuffix(raw, "%") || err != nil || v != v:
		dec.errorf(n, path, "objective %q is not a percentage: %s", n.Value, hint)
	case v >= 100:
		dec.errorf(n, path, "objective %s leaves no error budget (1 − objective ≤ 0): no burn rate can be measured against it; %s", raw, hint)
	case v <= 0:
		dec.errorf(n, path, "objective %s is no objective: every answer may fail; %s", raw, hint)
	default:
		*o = Objective(v / 100)
	}
}

func (*Objective) jsonSchema() map[string]any {
	return map[string]any{"type": "string", "pattern": `^\s*[0-9]{1,2}(\.[0-9]+)?\s*%$`,
		"description": "the share of good (non-5xx) answers promised, above 0% and below 100%, e.g. 99.9%"}
}

// SLOWindow is the SLO's rolling period: whole days (30d), weeks (4w) or a
// Go duration (720h).
type SLOWindow time.Duration

// D returns the window as a time.Duration.
func (w SLOWindow) D() time.Duration { return time.Duration(w) }

func (w SLOWindow) String() string {
	d := time.Duration(w)
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

// MarshalJSON writes the window as it would be written in YAML.
func (w SLOWindow) MarshalJSON() ([]byte, error) { return json.Marshal(w.String()) }

var errSLOWindow = errors.New("bad window")

// ParseSLOWindow reads 30d, 4w or a Go duration such as 720h.
func ParseSLOWindow(s string) (SLOWindow, error) {
	s = strings.TrimSpace(s)
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if num, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.Atoi(num)
			if err != nil || v <= 0 || v > 1000 {
				return 0, errSLOWindow
			}
			return SLOWindow(time.Duration(v) * unit), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, errSLOWindow
	}
	return SLOWindow(d), nil
}

func (w *SLOWindow) decodeNode(dec *decoder, n *yaml.Node, path string) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		dec.errorf(n, path, "expected a window such as 30d, got %s", describe(n))
		return
	}
	v, err := ParseSLOWindow(n.Value)
	switch {
	case err != nil:
		dec.errorf(n, path, "window %q is not a period: write whole days or weeks such as 30d or 4w, or a duration such as 720h", n.Value)
	case v < MinSLOWindow:
		dec.errorf(n, path, "window %s is shorter than %s, the longest burn-rate window (the ticket pair 3d/6h): write at least 3d; 30d is the usual", v, MinSLOWindow)
	case v > MaxSLOWindow:
		dec.errorf(n, path, "window %s is longer than %s: neither belay's samples nor a usual Prometheus retention reach that far; write e.g. 30d", v, MaxSLOWindow)
	default:
		*w = v
	}
}

func (*SLOWindow) jsonSchema() map[string]any {
	return map[string]any{"type": "string", "pattern": `^([0-9]+[dw]|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$`,
		"description": "the SLO's rolling period: days (30d), weeks (4w) or a Go duration; 3d to 90d, default 30d"}
}
