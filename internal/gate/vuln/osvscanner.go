package vuln

import (
	"encoding/json"
	"slices"
)

// osvScannerReport is the part of `osv-scanner --format json` (v1 and v2)
// belay reads.
type osvScannerReport struct {
	Results []struct {
		Source struct {
			Path string `json:"path"`
			Type string `json:"type"`
		} `json:"source"`
		Packages []struct {
			Package struct {
				Name      string `json:"name"`
				Version   string `json:"version"`
				Ecosystem string `json:"ecosystem"`
			} `json:"package"`
			Groups          []osvGroup `json:"groups"`
			Vulnerabilities []osvEntry `json:"vulnerabilities"`
		} `json:"packages"`
	} `json:"results"`
}

// osvGroup is osv-scanner's unit: the ids of one vulnerability (a GO- and a
// GHSA- record of the same flaw), its aliases, the highest CVSS base score
// among them, and, for Go with call analysis, whether each is called.
type osvGroup struct {
	IDs         []string `json:"ids"`
	Aliases     []string `json:"aliases"`
	MaxSeverity string   `json:"max_severity"`
	// v2 writes experimental_analysis, v1 experimentalAnalysis.
	Analysis   map[string]struct{ Called bool } `json:"experimental_analysis"`
	AnalysisV1 map[string]struct{ Called bool } `json:"experimentalAnalysis"`
}

func isOSVScanner(top map[string]json.RawMessage) bool {
	_, ok := top["results"]
	return ok
}

// parseOSVScanner reads osv-scanner's report: one finding per group of each
// package. Severity is the group's max_severity (a CVSS base score) rated
// as CVSS does, else the most severe GitHub rating among its records
// (database_specific.severity), else unknown.
func parseOSVScanner(data []byte) ([]Finding, error) {
	var r osvScannerReport
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	var out []Finding
	for _, res := range r.Results {
		for _, p := range res.Packages {
			groups := p.Groups
			if len(groups) == 0 { // before groups existed: each record alone
				for _, v := range p.Vulnerabilities {
					groups = append(groups, osvGroup{IDs: []string{v.ID}, Aliases: v.Aliases})
				}
			}
			for _, g := range groups {
				if len(g.IDs) == 0 {
					continue
				}
				f := Finding{
					ID: g.IDs[0], Package: p.Package.Name, Installed: p.Package.Version, Severity: scoreSeverity(g.MaxSeverity),
					Tools: []Tool{OSVScanner}, Target: res.Source.Path, Reach: g.reach(),
				}
				for _, id := range append(slices.Clone(g.IDs[1:]), g.Aliases...) {
					if id != f.ID && !slices.Contains(f.Aliases, id) {
						f.Aliases = append(f.Aliases, id)
					}
				}
				for _, v := range p.Vulnerabilities {
					if !slices.Contains(g.IDs, v.ID) {
						continue
					}
					if f.Severity == Unknown || (g.MaxSeverity == "" && v.severity().rank() > f.Severity.rank()) {
						f.Severity = v.severity()
					}
					if f.Title == "" {
						f.Title = v.title()
					}
					if f.Fixed == "" {
						f.Fixed = v.fixedFor(p.Package.Name, p.Package.Version)
					}
				}
				out = append(out, f)
			}
		}
	}
	return out, nil
}

// reach is Called when osv-scanner's call analysis found any of the group's
// records called, NotCalled when it ran and found none, else NoAnalysis.
func (g osvGroup) reach() Reach {
	analysis := g.Analysis
	if len(analysis) == 0 {
		analysis = g.AnalysisV1
	}
	if len(analysis) == 0 {
		return NoAnalysis
	}
	for _, a := range analysis {
		if a.Called {
			return Called
		}
	}
	return NotCalled
}
