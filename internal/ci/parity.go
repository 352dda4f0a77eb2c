package ci

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/belay-dev/belay/internal/infra/parity"
	"github.com/belay-dev/belay/internal/spec"
)

// ParityGate is parity: each environment compared with the next in
// promotion order, as `belay parity A B` does (docs/parity.md). A shape
// difference no exception excuses, or an exception that excuses nothing,
// fails it; each is a finding naming the resource and attribute.
func ParityGate(p *spec.Project) Gate {
	return func(_ context.Context, _ string, _ *spec.Step, out io.Writer) (GateResult, error) {
		envs := p.EnvironmentNames()
		if len(envs) < 2 {
			fmt.Fprintln(out, "one environment: nothing to compare")
			return GateResult{Summary: "one environment: nothing to compare"}, nil
		}
		var res GateResult
		var reports []*parity.Report
		diffs := 0
		for i := 0; i+1 < len(envs); i++ {
			rep, err := parity.Compare(p, envs[i], envs[i+1])
			if err != nil {
				return GateResult{}, err
			}
			reports = append(reports, rep)
			rep.PrintText(out)
			for _, d := range rep.Differences {
				attr := d.Attribute
				if attr == "" {
					attr = "presence"
				}
				res.Findings = append(res.Findings, Finding{Rule: "parity", Level: "error",
					Message: fmt.Sprintf("%s %s: %s %s, %s %s", d.Resource, attr, rep.A, d.A, rep.B, d.B), File: filepath.Base(p.File)})
			}
			for _, e := range rep.Unused {
				res.Findings = append(res.Findings, Finding{Rule: "parity-exception", Level: "error", Message: e.Msg,
					File: filepath.Base(p.File), Line: e.Line, Column: e.Column})
			}
			diffs += len(rep.Differences) + len(rep.Unused)
		}
		res.Detail, res.Blocks = reports, diffs > 0
		res.Summary = fmt.Sprintf("%d environment pair(s) compared: %d difference(s)", len(reports), diffs)
		fmt.Fprintln(out, res.Summary)
		return res, nil
	}
}
