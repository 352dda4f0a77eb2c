package explain

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pct writes a fraction as a percentage a person reads at a glance: two
// significant digits below 10 %, whole numbers above ("6.5 %", "0.12 %", "30 %").
func pct(f float64) string {
	p := f * 100
	switch {
	case p == 0:
		return "0 %"
	case p >= 10:
		return strconv.FormatFloat(math.Round(p), 'f', -1, 64) + " %"
	}
	return strconv.FormatFloat(p, 'g', 2, 64) + " %"
}

// of is how many of n a fraction is, for "3 of 46": the evidence keeps rates
// and counts, so the count is the rate times the count it rests on.
func of(rate float64, n int64) int64 { return int64(math.Round(rate * float64(n))) }

// requests writes "1 request" or "46 requests".
func requests(n int64) string { return plural(n, "request") }

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// dur writes a duration the way people say it: "0.3 s", "2.8 s", "5 min", "1 h 5 min".
func dur(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.FormatFloat(math.Round(d.Seconds()*10)/10, 'f', -1, 64) + " s"
	case d < time.Hour:
		d = d.Round(time.Second)
		m, s := int(d/time.Minute), int(d%time.Minute/time.Second)
		if s == 0 {
			return fmt.Sprintf("%d min", m)
		}
		return fmt.Sprintf("%d min %d s", m, s)
	}
	d = d.Round(time.Minute)
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	if m == 0 {
		return fmt.Sprintf("%d h", h)
	}
	return fmt.Sprintf("%d h %d min", h, m)
}

// seconds writes a latency given in seconds: "812 ms", "1.5 s".
func seconds(s float64) string {
	if s < 1 {
		return strconv.FormatFloat(round3(s*1000), 'g', 3, 64) + " ms"
	}
	return strconv.FormatFloat(round3(s), 'g', 3, 64) + " s"
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// confidence turns a sequential test's bar (1/α) into the confidence a
// rejection carries: a bar of 100 is "99 %".
func confidence(threshold float64) string {
	if threshold <= 1 {
		return ""
	}
	return strconv.FormatFloat(math.Round((1-1/threshold)*1000)/10, 'f', -1, 64) + " %"
}

// sentence capitalises s's first letter and ends it with a full stop; a
// name (belay, a version, a person, given in keep) keeps its spelling.
func sentence(s string, keep ...string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	first, _, _ := strings.Cut(s, " ")
	if first != "belay" && !strings.ContainsAny(first, "-_0123456789") && !slices.Contains(keep, first) {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// Jargon is what the plain layer never says: words a person without
// statistics would not know. The evidence, below the story, may.
var Jargon = []string{"e-value", "e-values", "mixture", "SPRT", "msprt", "p-value", "α"}

// JargonIn returns the first word of Jargon in s (any case), or "".
func JargonIn(s string) string {
	low := strings.ToLower(s)
	for _, w := range Jargon {
		if strings.Contains(low, strings.ToLower(w)) {
			return w
		}
	}
	return ""
}
