package spec

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a Go duration string in YAML ("30s", "5m", "1h30m").
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the duration as its Go string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d *Duration) decodeNode(dec *decoder, n *yaml.Node, path string) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		dec.errorf(n, path, "expected a duration such as 30s, 5m or 1h, got %s", describe(n))
		return
	}
	v, err := time.ParseDuration(n.Value)
	switch {
	case err != nil && (n.Tag == "!!int" || n.Tag == "!!float"):
		dec.errorf(n, path, "duration %s needs a unit: write e.g. %ss or %sm", n.Value, n.Value, n.Value)
	case err != nil:
		dec.errorf(n, path, "bad duration %q: use a Go duration such as 30s, 5m or 1h", n.Value)
	case v < 0:
		dec.errorf(n, path, "duration %q is negative: write a positive duration such as %s", n.Value, strings.TrimPrefix(strings.TrimSpace(n.Value), "-"))
	default:
		*d = Duration(v)
	}
}

// Percent is a share written as a percentage in YAML ("5%", "0.5%"); its
// value is the fraction (5% is 0.05).
type Percent float64

func (p Percent) String() string {
	return strconv.FormatFloat(float64(p)*100, 'f', -1, 64) + "%"
}

// MarshalJSON writes the percentage as it is written in YAML.
func (p Percent) MarshalJSON() ([]byte, error) { return json.Marshal(p.String()) }

// ParsePercent parses "5%" into 0.05; the number must lie in 0..100.
func ParsePercent(s string) (Percent, error) {
	num, ok := strings.CutSuffix(strings.TrimSpace(s), "%")
	if !ok {
		return 0, errorString("percentage " + strconv.Quote(s) + " needs a % sign, e.g. 5%")
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || v != v {
		return 0, errorString(strconv.Quote(s) + " is not a percentage such as 5% or 0.5%")
	}
	if v < 0 || v > 100 {
		return 0, percentRangeError("percentage " + strconv.Quote(s) + " is outside 0%..100%")
	}
	return Percent(v / 100), nil
}

type errorString string

func (e errorString) Error() string { return string(e) }

// percentRangeError is a percentage that parsed but lies outside 0..100.
type percentRangeError string

func (e percentRangeError) Error() string { return string(e) }

func (p *Percent) decodeNode(dec *decoder, n *yaml.Node, path string) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		dec.errorf(n, path, "expected a percentage such as 5%%, got %s", describe(n))
		return
	}
	v, err := ParsePercent(n.Value)
	if _, far := err.(percentRangeError); far && strings.HasSuffix(path, "].shadow") {
		// a step's shadow share says what the share is and what fits
		dec.errorf(n, path, "%s", shadowShareMsg(strings.TrimSpace(n.Value)))
		return
	}
	if err != nil {
		dec.errorf(n, path, "%v", err)
		return
	}
	*p = v
}
