package vuln

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func finding(id string, sev Severity, fixed string, reach Reach) Finding {
	return Finding{ID: id, Package: "example.com/lib", Installed: "1.0.0", Fixed: fixed, Severity: sev, Reach: reach, Tools: []Tool{Trivy}}
}

// TestEvaluateRules checks each verdict of the default policy.
func TestEvaluateRules(t *testing.T) {
	for _, tc := range []struct {
		name    string
		f       Finding
		verdict Verdict
		why     string
	}{
		{"critical blocks", finding("CVE-1", Critical, "", NoAnalysis), Block, "critical severity (rule critical)"},
		{"critical with a fix blocks", finding("CVE-1", Critical, "1.0.1", NoAnalysis), Block, "critical severity (rule critical)"},
		{"high with a fix blocks", finding("CVE-2", High, "1.0.1", NoAnalysis), Block, "high severity, fixed in 1.0.1 (rule high_with_fix)"},
		{"high without a fix warns", finding("CVE-3", High, "", NoAnalysis), Warn, "high severity, no fix yet"},
		{"medium with a fix warns", finding("CVE-4", Medium, "1.0.1", NoAnalysis), Warn, "medium severity, below the policy's block rules"},
		{"unknown warns", finding("GO-2026-1", Unknown, "1.0.1", NoAnalysis), Warn, "no severity in the report, below the policy's block rules"},
		{"called blocks whatever the severity", Finding{ID: "GO-2026-2", Severity: Unknown, Reach: Called, Trace: "main.go:3:4: a.main calls b.F"}, Block, "called: main.go:3:4: a.main calls b.F"},
		{"not called does not block, even critical", finding("CVE-5", Critical, "1.0.1", NotCalled), Warn, "critical severity, but not called by the scanned code"},
		{"waived by its id", finding("CVE-2023-45853", Critical, "", NoAnalysis), Waived, "waived until 2026-12-31: not used"},
		{"waived by an alias", Finding{ID: "GHSA-aaaa-bbbb-cccc", Aliases: []string{"cve-2023-45853"}, Severity: Critical}, Waived, "waived until 2026-12-31: not used"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultPolicy()
			p.Waivers = []Waiver{{ID: "CVE-2023-45853", Reason: "not used", Expires: "2026-12-31"}}
			res, err := Evaluate([]Finding{tc.f}, p, now)
			if err != nil {
				t.Fatal(err)
			}
			if j := res.Findings[0]; j.Verdict != tc.verdict || j.Why != tc.why {
				t.Errorf("got %s (%s), want %s (%s)", j.Verdict, j.Why, tc.verdict, tc.why)
			}
			if res.Blocks() != (tc.verdict == Block) {
				t.Errorf("Blocks() = %t with a %s verdict", res.Blocks(), tc.verdict)
			}
		})
	}
}

func TestEvaluateRuleWords(t *testing.T) {
	low := finding("CVE-9", Low, "1.0.1", NoAnalysis)
	for _, tc := range []struct {
		rules []Rule
		f     Finding
		block bool
	}{
		{[]Rule{"low"}, low, true},
		{[]Rule{"low_with_fix"}, low, true},
		{[]Rule{"low_with_fix"}, finding("CVE-9", Low, "", NoAnalysis), false},
		{[]Rule{"medium"}, low, false},
		{[]Rule{"unknown"}, finding("GO-1", Unknown, "", NoAnalysis), true},
		{[]Rule{"unknown"}, finding("GO-1", Unknown, "", NotCalled), false},
		{[]Rule{}, finding("CVE-1", Critical, "1", NoAnalysis), false}, // block: [] blocks nothing
		{[]Rule{"critical"}, Finding{ID: "GO-2", Reach: Called, Severity: Unknown}, false},
	} {
		res, err := Evaluate([]Finding{tc.f}, Policy{Block: tc.rules}, now)
		if err != nil {
			t.Fatal(err)
		}
		if res.Blocks() != tc.block {
			t.Errorf("rules %v on %s: blocks %t, want %t (%s)", tc.rules, line(tc.f), res.Blocks(), tc.block, res.Findings[0].Why)
		}
	}
}

// TestEvaluateImage judges the Trivy and Grype image reports together under
// testdata/policy/image.yaml: the same vulnerability from both tools is one
// finding, a waiver accepts the critical zlib1g one, and an unused waiver
// is a warning.
func TestEvaluateImage(t *testing.T) {
	trivy, _ := readReport(t, "testdata/reports/trivy-image.json")
	grype, _ := readReport(t, "testdata/reports/grype-image.json")
	res, err := Evaluate(Merge(append(trivy, grype...)), readPolicy(t, "testdata/policy/image.yaml"), now)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range res.Findings {
		got = append(got, fmt.Sprintf("%s %s %s %v", j.Verdict, j.ID, j.Package, j.Tools))
	}
	want := []string{
		"block CVE-2024-24790 stdlib [trivy]",
		"block CVE-2023-45289 stdlib [trivy]",
		"block CVE-2023-4911 libc6 [grype]",
		"warn CVE-2023-31484 perl-base [trivy]",
		"warn CVE-2023-45288 golang.org/x/net [trivy grype]", // Grype's GHSA-4v7x-pqxf-cx7m, aliased to it
		"warn CVE-2024-0727 libssl3 [trivy]",
		"warn CVE-2011-3374 apt [grype]",
		"waived CVE-2023-45853 zlib1g [trivy grype]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("verdicts\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
	if res.Summary != (Summary{Block: 3, Warn: 4, Waived: 1}) {
		t.Errorf("summary %+v", res.Summary)
	}
	if want := []string{"testdata/policy/image.yaml:7: the waiver for GHSA-2wrh-6pvc-2jm9 matches no finding: remove it if the vulnerability is gone"}; !slices.Equal(res.Warnings, want) {
		t.Errorf("warnings %q", res.Warnings)
	}
}

func TestEvaluateExpiredWaiver(t *testing.T) {
	p := DefaultPolicy()
	p.File = "belay-vulns.yaml"
	p.Waivers = []Waiver{
		{ID: "CVE-1", Reason: "r", Expires: "2026-05-31", Line: 3},
		{ID: "CVE-2", Reason: "r", Expires: "2027-01-01", Line: 6},
		{ID: "CVE-3", Reason: "r", Expires: "2026-01-31", Line: 9},
	}
	// CVE-1's waiver would apply: the error must not leave it silently unapplied.
	_, err := Evaluate([]Finding{finding("CVE-1", Critical, "", NoAnalysis)}, p, now)
	if !errors.Is(err, ErrWaiverExpired) {
		t.Fatalf("got %v, want ErrWaiverExpired", err)
	}
	msg := err.Error()
	for _, want := range []string{"belay-vulns.yaml:3: the waiver for CVE-1 has expired: its expires date, 2026-05-31, passed", "belay-vulns.yaml:9: the waiver for CVE-3"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "CVE-2") {
		t.Errorf("error names the live waiver: %q", msg)
	}
}
