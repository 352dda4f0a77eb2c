package vuln

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/**/*.err with the messages produced now")

// line is a finding in one line, for comparing with what a report says.
func line(f Finding) string {
	s := fmt.Sprintf("%s %s %s→%s %s", f.ID, f.Package, f.Installed, f.Fixed, f.Severity)
	if f.Reach != NoAnalysis {
		s += " " + string(f.Reach)
	}
	return s
}

func readReport(t *testing.T, name string) ([]Finding, Tool) {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	fs, tool, err := ParseReport(name, data)
	if err != nil {
		t.Fatal(err)
	}
	return fs, tool
}

// TestParseReports reads each tool's report, written in the format its
// documentation and test fixtures show, and checks every finding.
func TestParseReports(t *testing.T) {
	for _, tc := range []struct {
		file string
		tool Tool
		want []string
	}{
		{"govulncheck.json", Govulncheck, []string{
			"GO-2026-9001 example.com/parser v1.4.0→v1.4.2 unknown called",
			"GO-2026-9002 example.com/codec v0.9.1→v0.9.3 unknown not_called",
		}},
		{"osv-scanner.json", OSVScanner, []string{
			"GHSA-c3h9-896r-86jm github.com/gogo/protobuf 1.3.1→1.3.2 high called",
			"GHSA-2wrh-6pvc-2jm9 golang.org/x/net 0.7.0→0.13.0 medium not_called",
			"GHSA-xvch-5gv4-984h minimist 1.2.5→1.2.6 critical",
			"GHSA-2p57-rm9w-gvfp ip 2.0.1→ high", // no CVSS score: GitHub's rating
			"GHSA-c2qf-rxjj-qqgw semver 7.5.1→7.5.2 medium",
		}},
		{"trivy-image.json", Trivy, []string{
			"CVE-2023-45853 zlib1g 1:1.2.13.dfsg-1→ critical",
			"CVE-2024-0727 libssl3 3.0.11-1~deb12u2→3.0.13-1~deb12u1 medium",
			"CVE-2023-31484 perl-base 5.36.0-7+deb12u1→ high",
			"CVE-2023-45288 golang.org/x/net v0.17.0→0.23.0 medium",
			"CVE-2024-24790 stdlib v1.21.0→1.21.11 critical", // "1.21.11, 1.22.4": the fix on v1.21
			"CVE-2023-45289 stdlib v1.21.0→1.21.8 high",
		}},
		{"grype-image.json", Grype, []string{
			"CVE-2023-4911 libc6 2.36-9+deb12u1→2.36-9+deb12u3 high",
			"CVE-2023-45853 zlib1g 1:1.2.13.dfsg-1→ critical", // wont-fix
			"GHSA-4v7x-pqxf-cx7m golang.org/x/net v0.17.0→0.23.0 medium",
			"CVE-2011-3374 apt 2.6.1→ low", // Negligible
		}},
	} {
		t.Run(string(tc.tool), func(t *testing.T) {
			fs, tool := readReport(t, filepath.Join("testdata", "reports", tc.file))
			if tool != tc.tool {
				t.Errorf("read as %s, want %s", tool, tc.tool)
			}
			var got []string
			for _, f := range fs {
				got = append(got, line(f))
				if f.Report != filepath.Join("testdata", "reports", tc.file) || !slices.Equal(f.Tools, []Tool{tc.tool}) {
					t.Errorf("%s: report %q, tools %v", f.ID, f.Report, f.Tools)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("findings\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(tc.want, "\n      "))
			}
		})
	}
}

// TestParseReportDetails checks the fields beyond the one-line summary:
// aliases, titles, targets, layers and govulncheck's call trace.
func TestParseReportDetails(t *testing.T) {
	find := func(fs []Finding, id, pkg string) Finding {
		t.Helper()
		i := slices.IndexFunc(fs, func(f Finding) bool { return f.ID == id && f.Package == pkg })
		if i < 0 {
			t.Fatalf("no finding %s in %s", id, pkg)
		}
		return fs[i]
	}
	gv, _ := readReport(t, "testdata/reports/govulncheck.json")
	called := find(gv, "GO-2026-9001", "example.com/parser")
	if want := "main.go:15:28: example.com/shop.main calls example.com/parser.Parse"; called.Trace != want {
		t.Errorf("trace %q, want %q", called.Trace, want)
	}
	if !slices.Equal(called.Aliases, []string{"CVE-2026-49001", "GHSA-9f4q-7x2m-q8v3"}) || called.Target != "example.com/shop" ||
		called.Title != "Unbounded allocation in Parse in example.com/parser" {
		t.Errorf("govulncheck finding: %+v", called)
	}

	osv, _ := readReport(t, "testdata/reports/osv-scanner.json")
	gogo := find(osv, "GHSA-c3h9-896r-86jm", "github.com/gogo/protobuf")
	if !slices.Equal(gogo.Aliases, []string{"GO-2021-0053", "CVE-2021-3121"}) || gogo.Target != "/src/shop/go.mod" ||
		gogo.Title != "Improper Input Validation in GoGo Protobuf" {
		t.Errorf("osv-scanner finding: %+v", gogo)
	}

	tr, _ := readReport(t, "testdata/reports/trivy-image.json")
	z := find(tr, "CVE-2023-45853", "zlib1g")
	if z.Target != "registry.example.com/shop:1.8.0 (debian 12.4)" || z.Layer != "sha256:2f44b7a888fa005d07c031d3cfad2a1c0344207def2ab9dfb3e70ef6bd2a0ef0" ||
		!strings.HasPrefix(z.Title, "zlib: integer overflow") {
		t.Errorf("trivy finding: %+v", z)
	}

	gr, _ := readReport(t, "testdata/reports/grype-image.json")
	net := find(gr, "GHSA-4v7x-pqxf-cx7m", "golang.org/x/net")
	if !slices.Equal(net.Aliases, []string{"CVE-2023-45288"}) || net.Target != "registry.example.com/shop:1.8.0" ||
		net.Layer != "sha256:0b8b0b5d1ffdcd0f1e2b6b7e6d3e5c9a6e0f3f2b9a8c7d6e5f4a3b2c1d0e9f8a" {
		t.Errorf("grype finding: %+v", net)
	}
}

// TestBadReports checks that every file in testdata/reports/bad is refused
// with exactly the message in its sibling .err file.
func TestBadReports(t *testing.T) {
	files, err := filepath.Glob("testdata/reports/bad/*.json")
	if err != nil || len(files) < 7 {
		t.Fatalf("bad reports: %v, %v", files, err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, _, perr := ParseReport(f, data)
			if perr == nil {
				t.Fatalf("%s was accepted", f)
			}
			if !errors.Is(perr, ErrReport) {
				t.Errorf("error does not wrap ErrReport: %v", perr)
			}
			golden(t, strings.TrimSuffix(f, ".json")+".err", perr.Error()+"\n")
		})
	}
}

// golden compares got with the file want, or writes it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(name, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("message differs\n got: %s\nwant: %s", got, want)
	}
}

func TestPosition(t *testing.T) {
	data := []byte("{\n  \"é\": 1,\n  x\n}")
	for _, tc := range []struct {
		offset    int64
		line, col int
	}{
		{1, 1, 1}, {3, 2, 1}, {8, 2, 5}, {16, 3, 3}, {int64(len(data)), 4, 1},
	} {
		if l, c := position(data, tc.offset); l != tc.line || c != tc.col {
			t.Errorf("position(%d) = %d:%d, want %d:%d", tc.offset, l, c, tc.line, tc.col)
		}
	}
}
