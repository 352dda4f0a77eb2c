package dora

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrWindow marks a window that does not parse.
var ErrWindow = errors.New("bad window")

// DefaultWindow is the window of the figures when none is asked for.
const DefaultWindow = "30d"

// MaxWindow bounds a window, so that a typo does not read every record
// belay ever kept as if it were recent.
const MaxWindow = 366 * 24 * time.Hour

// ParseWindow reads a window: a whole number of days ("30d") or weeks
// ("4w"), or a Go duration ("12h", "90m"), longer than zero and at most a
// year (366 days).
func ParseWindow(s string) (time.Duration, error) {
	d, err := parseWindow(s)
	if err != nil {
		return 0, err
	}
	if d <= 0 || d > MaxWindow {
		return 0, fmt.Errorf("%w: %q: give a window longer than zero and at most 366d", ErrWindow, s)
	}
	return d, nil
}

func parseWindow(s string) (time.Duration, error) {
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.Atoi(n)
			if err != nil {
				return 0, fmt.Errorf("%w: %q: give a whole number of days or weeks (30d, 4w) or a duration (12h)", ErrWindow, s)
			}
			if v <= 0 || v > int(MaxWindow/unit) {
				return 0, fmt.Errorf("%w: %q: give a window longer than zero and at most 366d", ErrWindow, s)
			}
			return time.Duration(v) * unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %q: give a whole number of days or weeks (30d, 4w) or a duration (12h)", ErrWindow, s)
	}
	return d, nil
}
