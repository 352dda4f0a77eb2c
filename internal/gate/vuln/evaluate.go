package vuln

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/english"
)

// ErrWaiverExpired is returned by Evaluate when a waiver has expired: the
// policy must be fixed before the findings can be judged, since a waiver
// that silently stopped applying would turn a green gate red, or hide that
// the acceptance ran out.
var ErrWaiverExpired = errors.New("expired vulnerability waiver")

// Verdict is what a finding does to a release.
type Verdict string

const (
	Block  Verdict = "block"  // the release may not ship
	Warn   Verdict = "warn"   // shown, does not block
	Waived Verdict = "waived" // a waiver accepts it until it expires
)

// Judged is a finding with its verdict and why.
type Judged struct {
	Finding
	Verdict Verdict `json:"verdict"`
	Why     string  `json:"why"`
}

// Result is the gate's answer: every finding judged, most severe first.
type Result struct {
	Findings []Judged `json:"findings"`
	Summary  Summary  `json:"summary"`
	// Warnings are problems that do not stop the gate: a waiver that
	// matches no finding.
	Warnings []string `json:"warnings"`
}

// Summary counts findings by verdict.
type Summary struct {
	Block  int `json:"block"`
	Warn   int `json:"warn"`
	Waived int `json:"waived"`
}

// Blocks reports whether any finding blocks.
func (r Result) Blocks() bool { return r.Summary.Block > 0 }

// Evaluate judges findings under p at now: a finding a live waiver names
// (by id or alias) is waived; else it blocks when a rule of p.Block matches
// it; else it warns. An expired waiver is an error (ErrWaiverExpired)
// naming each one, whether or not it matches a finding.
func Evaluate(findings []Finding, p Policy, now time.Time) (Result, error) {
	if err := p.CheckExpiry(now); err != nil {
		return Result{}, err
	}
	res := Result{Findings: make([]Judged, 0, len(findings)), Warnings: []string{}}
	used := make([]bool, len(p.Waivers))
	for _, f := range findings {
		j := Judged{Finding: f}
		if i := slices.IndexFunc(p.Waivers, func(w Waiver) bool { return names(f, w.ID) }); i >= 0 {
			used[i] = true
			w := p.Waivers[i]
			j.Verdict, j.Why = Waived, fmt.Sprintf("waived until %s: %s", w.Expires, w.Reason)
		} else if why, ok := blocks(f, p.Block); ok {
			j.Verdict, j.Why = Block, why
		} else {
			j.Verdict, j.Why = Warn, warnWhy(f)
		}
		res.Findings = append(res.Findings, j)
	}
	for i, w := range p.Waivers {
		if !used[i] {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s: the waiver for %s matches no finding: remove it if the vulnerability is gone", w.place(p.File), w.ID))
		}
	}
	slices.SortStableFunc(res.Findings, func(a, b Judged) int {
		return cmp.Or(verdictRank(a.Verdict)-verdictRank(b.Verdict), b.Severity.rank()-a.Severity.rank(),
			strings.Compare(a.ID, b.ID), strings.Compare(a.Package, b.Package))
	})
	for _, j := range res.Findings {
		switch j.Verdict {
		case Block:
			res.Summary.Block++
		case Warn:
			res.Summary.Warn++
		case Waived:
			res.Summary.Waived++
		}
	}
	return res, nil
}

// CheckExpiry returns an error (ErrWaiverExpired) naming every waiver of p
// that has expired at now, and what to do about it.
func (p Policy) CheckExpiry(now time.Time) error {
	var expired []error
	for _, w := range p.Waivers {
		if w.expired(now) {
			expired = append(expired, errorf(ErrWaiverExpired, "%s: the waiver for %s has expired: its expires date, %s, passed %s: fix the vulnerability and remove the waiver, or renew it with a later expires and a reason that still holds",
				w.place(p.File), w.ID, w.Expires, english.Ago(now.Sub(expiryEnd(w)))))
		}
	}
	return errors.Join(expired...)
}

func expiryEnd(w Waiver) time.Time {
	day, _ := time.Parse(time.DateOnly, w.Expires)
	return day.AddDate(0, 0, 1)
}

func verdictRank(v Verdict) int { return slices.Index([]Verdict{Block, Warn, Waived}, v) }

// names reports whether id is the finding's id or one of its aliases.
func names(f Finding, id string) bool {
	return slices.ContainsFunc(f.IDs(), func(o string) bool { return strings.EqualFold(o, id) })
}

// blocks says which of rules, first in their order, blocks f, and why.
func blocks(f Finding, rules []Rule) (string, bool) {
	for _, r := range rules {
		if r == RuleCalled {
			if f.Reach == Called {
				return "called: " + cmp.Or(f.Trace, "the scanned code calls the vulnerable function"), true
			}
			continue
		}
		sev, fix := Severity(strings.TrimSuffix(string(r), withFix)), strings.HasSuffix(string(r), withFix)
		if f.Reach == NotCalled || f.Severity != sev || (fix && !f.HasFix()) {
			continue
		}
		if fix {
			return fmt.Sprintf("%s severity, fixed in %s (rule %s)", sev, f.Fixed, r), true
		}
		return fmt.Sprintf("%s severity (rule %s)", sev, r), true
	}
	return "", false
}

// warnWhy says why f does not block.
func warnWhy(f Finding) string {
	sev := string(f.Severity) + " severity"
	if f.Severity == Unknown {
		sev = "no severity in the report"
	}
	switch {
	case f.Reach == NotCalled:
		return sev + ", but not called by the scanned code"
	case !f.HasFix():
		return sev + ", no fix yet"
	}
	return sev + ", below the policy's block rules"
}
