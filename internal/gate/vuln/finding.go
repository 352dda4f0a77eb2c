// Package vuln is belay's dependency and artifact vulnerability gate: it reads
// the findings of govulncheck, osv-scanner, Trivy and Grype into one model and
// judges them against a severity policy with expiring waivers.
package vuln

import (
	"fmt"
	"slices"
	"strings"
)

// Severity is a finding's severity, from the report that gave it.
type Severity string

// The severities, from most to least severe. Unknown is a finding whose
// report gave none (govulncheck's database carries no severity).
const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
	Unknown  Severity = "unknown"
)

// Severities lists every severity, most severe first.
var Severities = []Severity{Critical, High, Medium, Low, Unknown}

// rank orders severities: higher is more severe.
func (s Severity) rank() int {
	if i := slices.Index(Severities, s); i >= 0 {
		return len(Severities) - i
	}
	return 0
}

// Reach says whether a reachability analysis found the vulnerable code
// called. Trivy and Grype do no such analysis: their findings have none.
type Reach string

const (
	// Called: govulncheck (or osv-scanner's Go call analysis) found a call
	// path from the scanned code to a vulnerable function.
	Called Reach = "called"
	// NotCalled: the analysis ran and found no such path: the module is
	// required, or the package imported, but the vulnerable code not called.
	NotCalled Reach = "not_called"
	// NoAnalysis: the report says nothing either way.
	NoAnalysis Reach = ""
)

// Tool names the scanner whose report gave a finding.
type Tool string

// The tools whose reports belay reads.
const (
	Govulncheck Tool = "govulncheck"
	OSVScanner  Tool = "osv-scanner"
	Trivy       Tool = "trivy"
	Grype       Tool = "grype"
)

// Finding is one vulnerability in one installed package.
type Finding struct {
	ID        string   `json:"id"`                // the report's id: GO-…, GHSA-…, CVE-…
	Aliases   []string `json:"aliases,omitempty"` // other ids of the same vulnerability
	Package   string   `json:"package"`           // module path, package or OS package name
	Installed string   `json:"installed"`         // the installed version
	Fixed     string   `json:"fixed,omitempty"`   // the first version with the fix; empty when there is none
	Severity  Severity `json:"severity"`
	Title     string   `json:"title,omitempty"`
	Tools     []Tool   `json:"tools"`            // the scanners that reported it
	Target    string   `json:"target,omitempty"` // what was scanned: a lockfile, an image and its OS, a module
	Layer     string   `json:"layer,omitempty"`  // the image layer that installed the package (digest)
	Reach     Reach    `json:"reach,omitempty"`
	Trace     string   `json:"trace,omitempty"`  // how the scanned code calls it, when Reach is called
	Report    string   `json:"report,omitempty"` // the report file it came from; empty for an in-process scan
}

// IDs is the finding's id and aliases.
func (f Finding) IDs() []string { return append([]string{f.ID}, f.Aliases...) }

// HasFix reports whether a fixed version is known.
func (f Finding) HasFix() bool { return f.Fixed != "" }

// sameVulnerability reports whether a and b are the same vulnerability in
// the same package at the same version, as two tools name it: one's ids
// overlap the other's, and package and version agree (Go versions with or
// without their leading v).
func sameVulnerability(a, b Finding) bool {
	if a.Package != b.Package || strings.TrimPrefix(a.Installed, "v") != strings.TrimPrefix(b.Installed, "v") {
		return false
	}
	for _, id := range a.IDs() {
		if slices.ContainsFunc(b.IDs(), func(o string) bool { return strings.EqualFold(o, id) }) {
			return true
		}
	}
	return false
}

// Merge folds findings that are the same vulnerability in the same package
// (see sameVulnerability) into one: the most severe severity, the first
// known fix, every tool and alias, and called when any analysis found it
// called. Findings keep the order of their first appearance.
func Merge(fs []Finding) []Finding {
	var out []Finding
	for _, f := range fs {
		i := slices.IndexFunc(out, func(o Finding) bool { return sameVulnerability(o, f) })
		if i < 0 {
			f.Tools = slices.Clone(f.Tools)
			f.Aliases = slices.Clone(f.Aliases)
			out = append(out, f)
			continue
		}
		out[i] = merge(out[i], f)
	}
	return out
}

func merge(a, b Finding) Finding {
	if b.Severity.rank() > a.Severity.rank() {
		a.Severity = b.Severity
	}
	if a.Fixed == "" {
		a.Fixed = b.Fixed
	}
	if a.Title == "" {
		a.Title = b.Title
	}
	for _, t := range b.Tools {
		if !slices.Contains(a.Tools, t) {
			a.Tools = append(a.Tools, t)
		}
	}
	for _, id := range b.IDs() {
		if !strings.EqualFold(id, a.ID) && !slices.ContainsFunc(a.Aliases, func(o string) bool { return strings.EqualFold(o, id) }) {
			a.Aliases = append(a.Aliases, id)
		}
	}
	switch {
	case b.Reach == Called:
		a.Reach, a.Trace = Called, b.Trace
	case a.Reach == NoAnalysis:
		a.Reach = b.Reach
	}
	if a.Report != b.Report && b.Report != "" {
		a.Report = strings.TrimPrefix(a.Report+", "+b.Report, ", ")
	}
	return a
}

// kindError is a message that errors.Is matches against its kind (ErrPolicy,
// ErrReport, …) without the kind's words in front of it: the message
// already says what is wrong, where, and what to do.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func errorf(kind error, format string, a ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, a...)}
}
