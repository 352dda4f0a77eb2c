package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/english"
	"github.com/belay-dev/belay/internal/gate/vuln"
	"github.com/spf13/cobra"
)

// VulnsReport is what `belay gate vulns -o json` and `belay gate scan -o
// json` print: where the findings came from, the policy that judged them,
// and every finding with its verdict.
type VulnsReport struct {
	Sources []vuln.Source `json:"sources"`
	Policy  vuln.Policy   `json:"policy"`
	vuln.Result
}

// vulnFlags are the flags the two vulnerability gates share.
type vulnFlags struct {
	reports []string
	policy  string
}

func (f *vulnFlags) register(cmd *cobra.Command, reportHelp string) {
	cmd.Flags().StringArrayVar(&f.reports, "report", nil, reportHelp)
	cmd.Flags().StringVar(&f.policy, "policy", "", "the policy file: what blocks, and waivers (default "+vuln.DefaultPolicyFile+" in the current directory, if there is one)")
}

const policyLong = "The policy (--policy FILE, else " + vuln.DefaultPolicyFile + " in the current directory, else the default)\n" +
	"lists what blocks — `block: [critical, high_with_fix, called]` by default — and waivers, each with\n" +
	"id, reason and expires (YYYY-MM-DD). Anything else warns. An expired waiver is an error.\n\n" +
	"Exit 0 when nothing blocks, 1 when a finding blocks, 2 when a report, the policy or the scan\n" +
	"cannot be read (a report's error names file:line:column)."

func newGateVulnsCmd(g *Globals) *cobra.Command {
	var (
		f  vulnFlags
		db string
	)
	cmd := &cobra.Command{
		Use:   "vulns [PATH]",
		Short: "Audit dependencies for known vulnerabilities: govulncheck, or osv-scanner, Trivy and Grype reports",
		Long: "vulns runs govulncheck in this process on the Go module at PATH (default .) and reads\n" +
			"each --report: JSON from `govulncheck -json`, `osv-scanner --format json`, `trivy … --format\n" +
			"json` or `grype -o json`, recognised from its content. Given only --report files (no PATH,\n" +
			"no --db), it does not scan. The same vulnerability reported twice for a package is shown\n" +
			"once. govulncheck's findings block when the code calls the vulnerable function (rule\n" +
			"called): the Go database rates no severity. --db DIR checks against an offline copy of the\n" +
			"Go vulnerability database.\n\n" + policyLong,
		Example: "  belay gate vulns\n  belay gate vulns --db /srv/vulndb ./service\n" +
			"  belay gate vulns --report osv.json --report trivy-fs.json -o json",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			policy, err := loadVulnPolicy(f.policy)
			if err != nil {
				return err
			}
			findings, sources, err := readVulnReports(f.reports, nil)
			if err != nil {
				return err
			}
			if len(args) == 1 || len(f.reports) == 0 || db != "" { // --db asks for a scan too
				dir := "."
				if len(args) == 1 {
					dir = args[0]
				}
				found, err := vuln.Scan(cmd.Context(), vuln.ScanOptions{Dir: dir, DB: db})
				if err != nil {
					return &exitError{code: exitGateInput, err: err}
				}
				findings = append(findings, found...)
				sources = append(sources, vuln.Source{Tool: vuln.Govulncheck, Dir: dir, Findings: len(found)})
			}
			return judgeVulns(cmd, g, findings, sources, policy)
		},
	}
	f.register(cmd, "a scanner's JSON report to read, instead of scanning unless PATH is given (repeatable)")
	cmd.Flags().StringVar(&db, "db", "", "an offline Go vulnerability database: a directory laid out as vuln.go.dev (index/, ID/)")
	return cmd
}

func newGateScanCmd(g *Globals) *cobra.Command {
	var f vulnFlags
	cmd := &cobra.Command{
		Use:   "scan --report FILE",
		Short: "Judge a container or artifact scan (Trivy or Grype JSON) by the vulnerability policy",
		Long: "scan reads the report of the built artifact's scan — `trivy image --format json` or\n" +
			"`grype IMAGE -o json` — and judges it by the same policy as `belay gate vulns`. Each finding\n" +
			"names the image layer that installed the package.\n\n" + policyLong,
		Example: "  trivy image --format json -o trivy.json registry.example.com/shop:1.8.0\n" +
			"  belay gate scan --report trivy.json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(f.reports) == 0 {
				return &exitError{code: exitGateInput, err: usageError{errors.New("name the artifact's scan report: belay gate scan --report FILE (Trivy or Grype JSON)")}}
			}
			policy, err := loadVulnPolicy(f.policy)
			if err != nil {
				return err
			}
			findings, sources, err := readVulnReports(f.reports, []vuln.Tool{vuln.Trivy, vuln.Grype})
			if err != nil {
				return err
			}
			return judgeVulns(cmd, g, findings, sources, policy)
		},
	}
	f.register(cmd, "the artifact's scan report, Trivy or Grype JSON (repeatable)")
	return cmd
}

// loadVulnPolicy reads the policy file named, else the project's default
// file if there is one, else the default policy.
func loadVulnPolicy(name string) (vuln.Policy, error) {
	if name == "" {
		if _, err := os.Stat(vuln.DefaultPolicyFile); err != nil {
			return vuln.DefaultPolicy(), nil
		}
		name = vuln.DefaultPolicyFile
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return vuln.Policy{}, &exitError{code: exitGateInput, err: usageError{fmt.Errorf("read the vulnerability policy: %w", err)}}
	}
	p, err := vuln.ParsePolicy(name, data)
	if err == nil {
		err = p.CheckExpiry(time.Now()) // before a scan that may take a while
	}
	if err != nil {
		return p, &exitError{code: exitGateInput, err: &hintError{code: codeInvalid, msg: err.Error(), err: err}}
	}
	return p, nil
}

// readVulnReports reads each report file; only tools in allow when it is
// not nil.
func readVulnReports(names []string, allow []vuln.Tool) ([]vuln.Finding, []vuln.Source, error) {
	var (
		all     []vuln.Finding
		sources []vuln.Source
	)
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, nil, &exitError{code: exitGateInput, err: usageError{fmt.Errorf("read report: %w", err)}}
		}
		fs, tool, err := vuln.ParseReport(name, data)
		if err != nil {
			return nil, nil, &exitError{code: exitGateInput, err: &hintError{code: codeInvalid, msg: err.Error(), err: err}}
		}
		if allow != nil && !slices.Contains(allow, tool) {
			return nil, nil, &exitError{code: exitGateInput, err: usageError{fmt.Errorf(
				"%s is %s's report: belay gate scan judges the built artifact's Trivy or Grype scan; give dependency reports to belay gate vulns --report", name, tool)}}
		}
		all = append(all, fs...)
		sources = append(sources, vuln.Source{Tool: tool, Report: name, Findings: len(fs)})
	}
	return all, sources, nil
}

// judgeVulns judges the findings by the policy now, prints the result, and
// exits 1 when anything blocks.
func judgeVulns(cmd *cobra.Command, g *Globals, findings []vuln.Finding, sources []vuln.Source, p vuln.Policy) error {
	res, err := vuln.Evaluate(vuln.Merge(findings), p, time.Now())
	if err != nil {
		return &exitError{code: exitGateInput, err: &hintError{code: codeInvalid, msg: err.Error(), err: err}}
	}
	rep := VulnsReport{Sources: sources, Policy: p, Result: res}
	if rep.Sources == nil {
		rep.Sources = []vuln.Source{}
	}
	if err := g.emit(cmd.OutOrStdout(), rep, func(w io.Writer) error { return printVulnReport(w, rep) }); err != nil {
		return err
	}
	if res.Blocks() {
		where := "the policy"
		if p.File != "" {
			where = p.File
		}
		verb := "block"
		if res.Summary.Block == 1 {
			verb = "blocks"
		}
		return &exitError{code: 1, reported: g.Output == "json", err: fmt.Errorf("%s %s the release: upgrade each to its fixed version, or waive it in %s with a reason and an expiry date",
			english.Count(res.Summary.Block, "vulnerability finding"), verb, where)}
	}
	return nil
}

// printVulnReport prints a table of the findings, most severe first, then
// the sources, the verdicts and the warnings.
func printVulnReport(w io.Writer, r VulnsReport) error {
	var b strings.Builder
	rows := [][]string{{"ID", "PACKAGE", "INSTALLED → FIXED", "SEVERITY", "VERDICT", "WHY"}}
	for _, f := range r.Findings {
		fixed := f.Fixed
		if fixed == "" {
			fixed = "no fix"
		}
		rows = append(rows, []string{f.ID, f.Package, f.Installed + " → " + fixed, string(f.Severity), string(f.Verdict), f.Why})
	}
	if len(r.Findings) > 0 {
		widths := make([]int, len(rows[0]))
		for _, row := range rows {
			for i, c := range row {
				widths[i] = max(widths[i], len([]rune(c)))
			}
		}
		for _, row := range rows {
			for i, c := range row[:len(row)-1] {
				fmt.Fprintf(&b, "%s%s  ", c, strings.Repeat(" ", widths[i]-len([]rune(c))))
			}
			b.WriteString(row[len(row)-1] + "\n")
		}
		b.WriteString("\n")
	}
	var from []string
	for _, s := range r.Sources {
		if s.Dir != "" {
			from = append(from, fmt.Sprintf("govulncheck on %s (%d)", s.Dir, s.Findings))
			continue
		}
		from = append(from, fmt.Sprintf("%s (%s, %d)", s.Report, s.Tool, s.Findings))
	}
	fmt.Fprintf(&b, "%s from %s\n", english.Count(len(r.Findings), "finding"), strings.Join(from, "; "))
	policy := "the default policy"
	if r.Policy.File != "" {
		policy = r.Policy.File
	}
	rules := make([]string, len(r.Policy.Block))
	for i, rule := range r.Policy.Block {
		rules[i] = string(rule)
	}
	fmt.Fprintf(&b, "%d block, %d warn, %d waived (%s blocks: %s)\n", r.Summary.Block, r.Summary.Warn, r.Summary.Waived, policy, strings.Join(rules, ", "))
	for _, warning := range r.Warnings {
		b.WriteString("warning: " + warning + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
