package ci

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"slices"
	"strings"
)

// JUnit is the report as JUnit XML: one test suite, a test case per step;
// a failed step is a failure, a warned one a skipped case with its summary.
func (r Report) JUnit() ([]byte, error) {
	type failure struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	}
	type skipped struct {
		Message string `xml:"message,attr"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		Classname string   `xml:"classname,attr"`
		Time      string   `xml:"time,attr"`
		Failure   *failure `xml:"failure,omitempty"`
		Skipped   *skipped `xml:"skipped,omitempty"`
		SystemOut string   `xml:"system-out,omitempty"`
	}
	type testsuite struct {
		XMLName  xml.Name   `xml:"testsuite"`
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Skipped  int        `xml:"skipped,attr"`
		Time     string     `xml:"time,attr"`
		Cases    []testcase `xml:"testcase"`
	}
	ts := testsuite{Name: "belay ci " + r.Stage, Tests: len(r.Steps), Time: seconds(r.Duration.Seconds())}
	for _, s := range r.Steps {
		c := testcase{Name: s.Name, Classname: "belay.ci." + r.Stage, Time: seconds(s.Duration.Seconds()), SystemOut: s.Output}
		switch s.Status {
		case Failed:
			ts.Failures++
			c.Failure = &failure{Message: fmt.Sprintf("%s (impact %s)", s.Summary, s.Impact), Text: findingsText(s.Findings)}
		case Warned:
			ts.Skipped++
			c.Skipped = &skipped{Message: fmt.Sprintf("failed, but impact %s does not block: %s", s.Impact, s.Summary)}
		}
		ts.Cases = append(ts.Cases, c)
	}
	b, err := xml.MarshalIndent(ts, "", "  ")
	return append([]byte(xml.Header), append(b, '\n')...), err
}

func seconds(f float64) string { return fmt.Sprintf("%.3f", f) }

func findingsText(fs []Finding) string {
	var lines []string
	for _, f := range fs {
		lines = append(lines, fmt.Sprintf("%s:%d:%d %s: %s", f.File, f.Line, f.Column, f.Rule, f.Message))
	}
	return strings.Join(lines, "\n")
}

// SARIF is the gates' findings as SARIF 2.1.0: a run per gate step, its
// rules those it reported.
func (r Report) SARIF() ([]byte, error) {
	type region struct {
		StartLine   int `json:"startLine,omitempty"`
		StartColumn int `json:"startColumn,omitempty"`
	}
	type location struct {
		PhysicalLocation struct {
			ArtifactLocation struct {
				URI string `json:"uri"`
			} `json:"artifactLocation"`
			Region *region `json:"region,omitempty"`
		} `json:"physicalLocation"`
	}
	type result struct {
		RuleID    string            `json:"ruleId"`
		Level     string            `json:"level"`
		Message   map[string]string `json:"message"`
		Locations []location        `json:"locations,omitempty"`
	}
	type rule struct {
		ID string `json:"id"`
	}
	type run struct {
		Tool struct {
			Driver struct {
				Name           string `json:"name"`
				InformationURI string `json:"informationUri"`
				Rules          []rule `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Results []result `json:"results"`
	}
	runs := []run{}
	for _, s := range r.Steps {
		if s.Gate == "" {
			continue
		}
		var rn run
		rn.Tool.Driver.Name = "belay " + string(s.Gate)
		rn.Tool.Driver.InformationURI = "https://github.com/belay-dev/belay/blob/main/docs/gates.md"
		rn.Results = []result{}
		var ids []string
		for _, f := range s.Findings {
			res := result{RuleID: f.Rule, Level: f.Level, Message: map[string]string{"text": f.Message}}
			if f.File != "" {
				var l location
				l.PhysicalLocation.ArtifactLocation.URI = f.File
				if f.Line > 0 {
					l.PhysicalLocation.Region = &region{StartLine: f.Line, StartColumn: f.Column}
				}
				res.Locations = []location{l}
			}
			rn.Results = append(rn.Results, res)
			if !slices.Contains(ids, f.Rule) {
				ids = append(ids, f.Rule)
			}
		}
		slices.Sort(ids)
		rn.Tool.Driver.Rules = []rule{}
		for _, id := range ids {
			rn.Tool.Driver.Rules = append(rn.Tool.Driver.Rules, rule{ID: id})
		}
		runs = append(runs, rn)
	}
	return json.MarshalIndent(map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs":    runs,
	}, "", "  ")
}
