package vuln

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// govulncheck -json writes a stream of messages, each with one field set
// (golang.org/x/vuln/internal/govulncheck, protocol v1.0.0).
type gvMessage struct {
	Config *struct {
		ProtocolVersion string `json:"protocol_version"`
		ScannerName     string `json:"scanner_name"`
		ScanLevel       string `json:"scan_level"`
		ScanMode        string `json:"scan_mode"`
	} `json:"config"`
	Progress *json.RawMessage `json:"progress"`
	SBOM     *struct {
		Roots []string `json:"roots"`
	} `json:"SBOM"`
	OSV     *osvEntry  `json:"osv"`
	Finding *gvFinding `json:"finding"`
}

type gvFinding struct {
	OSV          string    `json:"osv"`
	FixedVersion string    `json:"fixed_version"`
	Trace        []gvFrame `json:"trace"`
}

type gvFrame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
	Position *struct {
		Filename string `json:"filename"`
		Line     int    `json:"line"`
		Column   int    `json:"column"`
	} `json:"position"`
}

func isGovulncheck(top map[string]json.RawMessage) bool {
	for _, k := range []string{"config", "progress", "SBOM", "osv", "finding"} {
		if _, ok := top[k]; ok {
			return true
		}
	}
	return false
}

// level is how deep a finding goes: 3 when it names the vulnerable
// function (a call path exists), 2 a package (imported), 1 the module only.
func (f gvFinding) level() int {
	if len(f.Trace) == 0 {
		return 0
	}
	switch top := f.Trace[0]; {
	case top.Function != "":
		return 3
	case top.Package != "":
		return 2
	}
	return 1
}

// parseGovulncheck reads govulncheck's JSON stream. govulncheck reports a
// vulnerability up to three times (module required, package imported,
// function called); the deepest finding stands for it. In a symbol-level
// scan (the default) a finding without a called function is NotCalled;
// package- and module-level scans say nothing of calls.
func parseGovulncheck(data []byte) ([]Finding, error) {
	var (
		level   string
		roots   []string
		entries = map[string]osvEntry{}
		deepest = map[string]gvFinding{} // by osv id and module
		order   []string
	)
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var m gvMessage
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		switch {
		case m.Config != nil:
			level = m.Config.ScanLevel
		case m.SBOM != nil:
			roots = m.SBOM.Roots
		case m.OSV != nil:
			entries[m.OSV.ID] = *m.OSV
		case m.Finding != nil && len(m.Finding.Trace) > 0:
			key := m.Finding.OSV + " " + m.Finding.Trace[0].Module
			old, seen := deepest[key]
			if !seen {
				order = append(order, key)
			}
			if !seen || m.Finding.level() > old.level() {
				deepest[key] = *m.Finding
			}
		}
	}
	slices.Sort(order) // govulncheck promises no order; its ids sort by year
	out := make([]Finding, 0, len(order))
	for _, key := range order {
		f := deepest[key]
		e, ok := entries[f.OSV]
		if !ok {
			return nil, fmt.Errorf("finding %s has no osv message with its details", f.OSV)
		}
		top := f.Trace[0]
		g := Finding{
			ID: f.OSV, Aliases: e.Aliases, Package: top.Module, Installed: top.Version, Fixed: f.FixedVersion,
			Severity: e.severity(), Title: e.title(), Tools: []Tool{Govulncheck}, Target: strings.Join(roots, ", "),
		}
		if level == "symbol" || level == "" { // symbol is govulncheck's default
			g.Reach = NotCalled
			if f.level() == 3 {
				g.Reach, g.Trace = Called, callTrace(f.Trace)
			}
		}
		out = append(out, g)
	}
	return out, nil
}

// callTrace says how the scanned code reaches the vulnerable function, as
// govulncheck's text output does: the position in the scanned code, then
// the calls from there down to the vulnerable function.
func callTrace(frames []gvFrame) string {
	names := make([]string, 0, len(frames))
	for i := len(frames) - 1; i >= 0; i-- {
		names = append(names, frames[i].symbol())
	}
	if len(names) > 3 {
		names = []string{names[0], "…", names[len(names)-1]}
	}
	s := strings.Join(names, " calls ")
	if entry := frames[len(frames)-1]; entry.Position != nil && entry.Position.Line > 0 {
		s = fmt.Sprintf("%s:%d:%d: %s", entry.Position.Filename, entry.Position.Line, entry.Position.Column, s)
	}
	return s
}

func (f gvFrame) symbol() string {
	fn := f.Function
	if f.Receiver != "" {
		fn = strings.TrimPrefix(f.Receiver, "*") + "." + fn
	}
	return f.Package + "." + fn
}
