package vuln

import (
	"strconv"
	"strings"
)

// osvEntry is the part of an OSV record (https://ossf.github.io/osv-schema/)
// belay reads. govulncheck's `osv` messages and osv-scanner's
// `vulnerabilities` are OSV records.
type osvEntry struct {
	ID       string   `json:"id"`
	Aliases  []string `json:"aliases"`
	Summary  string   `json:"summary"`
	Details  string   `json:"details"`
	Severity []struct {
		Type  string `json:"type"`
		Score string `json:"score"`
	} `json:"severity"`
	Affected []struct {
		Package struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
		} `json:"package"`
		Ranges []struct {
			Type   string `json:"type"`
			Events []struct {
				Introduced string `json:"introduced"`
				Fixed      string `json:"fixed"`
			} `json:"events"`
		} `json:"ranges"`
	} `json:"affected"`
	DatabaseSpecific struct {
		// GitHub's advisories rate each one: CRITICAL, HIGH, MODERATE, LOW.
		Severity string `json:"severity"`
	} `json:"database_specific"`
}

// title is the entry's summary, else the first line of its details.
func (e osvEntry) title() string {
	if e.Summary != "" {
		return e.Summary
	}
	first, _, _ := strings.Cut(strings.TrimSpace(e.Details), "\n")
	return first
}

// severity is the entry's own rating: GitHub's database_specific severity
// when it has one, else Unknown. CVSS vectors are not scored here:
// osv-scanner scores them itself (its group's max_severity), and the Go
// database, which govulncheck reads, carries neither.
func (e osvEntry) severity() Severity {
	return namedSeverity(e.DatabaseSpecific.Severity)
}

// fixedFor is the first version fixing package pkg after installed, from
// the entry's affected ranges: the smallest fixed event above installed,
// else any fixed event; empty when no range has one.
func (e osvEntry) fixedFor(pkg, installed string) string {
	var best, any string
	for _, a := range e.Affected {
		if a.Package.Name != pkg {
			continue
		}
		for _, r := range a.Ranges {
			for _, ev := range r.Events {
				if ev.Fixed == "" {
					continue
				}
				any = ev.Fixed
				if compareVersions(ev.Fixed, installed) > 0 && (best == "" || compareVersions(ev.Fixed, best) < 0) {
					best = ev.Fixed
				}
			}
		}
	}
	if best != "" {
		return best
	}
	return any
}

// namedSeverity maps the severity words the tools use (Trivy's CRITICAL,
// Grype's Critical and Negligible, GitHub's MODERATE) to a Severity.
func namedSeverity(s string) Severity {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical":
		return Critical
	case "high", "important": // Red Hat says important
		return High
	case "medium", "moderate":
		return Medium
	case "low", "negligible", "minor":
		return Low
	}
	return Unknown
}

// scoreSeverity maps a CVSS base score to its qualitative rating, as CVSS
// v3 defines them (0.1–3.9 low, 4.0–6.9 medium, 7.0–8.9 high, 9.0–10
// critical); a score that is not a number, or 0 (none), is Unknown.
func scoreSeverity(score string) Severity {
	v, err := strconv.ParseFloat(strings.TrimSpace(score), 64)
	switch {
	case err != nil || v <= 0:
		return Unknown
	case v >= 9:
		return Critical
	case v >= 7:
		return High
	case v >= 4:
		return Medium
	}
	return Low
}

// compareVersions orders two version strings loosely, as most ecosystems
// do: dot-, dash- and plus-separated parts, numeric parts as numbers, others
// as text; a leading v is ignored. It is used only to choose among the
// fixed versions of one advisory.
func compareVersions(a, b string) int {
	split := func(s string) []string {
		return strings.FieldsFunc(strings.TrimPrefix(s, "v"), func(r rune) bool { return r == '.' || r == '-' || r == '+' || r == '_' || r == '~' || r == ':' })
	}
	pa, pb := split(a), split(b)
	for i := 0; i < max(len(pa), len(pb)); i++ {
		if i >= len(pa) {
			return -1
		}
		if i >= len(pb) {
			return 1
		}
		na, ea := strconv.ParseUint(pa[i], 10, 64)
		nb, eb := strconv.ParseUint(pb[i], 10, 64)
		switch {
		case ea == nil && eb == nil && na != nb:
			if na < nb {
				return -1
			}
			return 1
		case (ea != nil || eb != nil) && pa[i] != pb[i]:
			return strings.Compare(pa[i], pb[i])
		}
	}
	return 0
}
