package vuln

import (
	"slices"
	"testing"
)

func TestMerge(t *testing.T) {
	gv := Finding{ID: "GO-2021-0053", Aliases: []string{"CVE-2021-3121", "GHSA-c3h9-896r-86jm"}, Package: "github.com/gogo/protobuf", Installed: "v1.3.1",
		Fixed: "v1.3.2", Severity: Unknown, Reach: Called, Trace: "main.go:1:1: x", Tools: []Tool{Govulncheck}}
	osv := Finding{ID: "GHSA-c3h9-896r-86jm", Aliases: []string{"CVE-2021-3121"}, Package: "github.com/gogo/protobuf", Installed: "1.3.1",
		Fixed: "1.3.2", Severity: High, Tools: []Tool{OSVScanner}, Report: "osv.json"}
	other := Finding{ID: "GHSA-c3h9-896r-86jm", Package: "github.com/gogo/protobuf", Installed: "1.3.2", Severity: High, Tools: []Tool{Trivy}}
	got := Merge([]Finding{gv, osv, other})
	if len(got) != 2 {
		t.Fatalf("got %d findings, want 2 (another version is another finding): %+v", len(got), got)
	}
	m := got[0]
	if m.ID != "GO-2021-0053" || m.Severity != High || m.Reach != Called || m.Trace != "main.go:1:1: x" || m.Fixed != "v1.3.2" ||
		!slices.Equal(m.Tools, []Tool{Govulncheck, OSVScanner}) || m.Report != "osv.json" {
		t.Errorf("merged %+v", m)
	}
	if !slices.Equal(gv.Tools, []Tool{Govulncheck}) {
		t.Errorf("Merge changed its input: %v", gv.Tools)
	}
}
