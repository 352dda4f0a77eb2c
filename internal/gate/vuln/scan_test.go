package vuln

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestScanOffline runs govulncheck in this process on testdata/gomod, a
// module that vendors two dependencies, against testdata/vulndb, an
// offline database with one vulnerability in each: the module calls
// parser.Parse (vulnerable) and imports codec without calling codec.Decode.
func TestScanOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("loads and type-checks a module")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	fs, err := Scan(ctx, ScanOptions{Dir: "testdata/gomod", DB: "testdata/vulndb", Env: hermetic()})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, line(f))
	}
	want := []string{
		"GO-2026-9001 example.com/parser v1.4.0→v1.4.2 unknown called",
		"GO-2026-9002 example.com/codec v0.9.1→v0.9.3 unknown not_called",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("findings\n got %q\nwant %q", got, want)
	}
	if fs[0].Trace != "main.go:15:28: example.com/shop.main calls example.com/parser.Parse" || fs[0].Report != "" {
		t.Errorf("called finding: trace %q, report %q", fs[0].Trace, fs[0].Report)
	}

	res, err := Evaluate(fs, DefaultPolicy(), now)
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary != (Summary{Block: 1, Warn: 1}) || res.Findings[0].ID != "GO-2026-9001" || res.Findings[0].Verdict != Block {
		t.Errorf("under the default policy: %+v", res)
	}
}

func TestScanErrors(t *testing.T) {
	ctx := context.Background()
	_, err := Scan(ctx, ScanOptions{Dir: "testdata/gomod", DB: "testdata/reports", Env: hermetic()})
	if !errors.Is(err, ErrScan) || err.Error() != "--db testdata/reports is not a vulnerability database: it has no index/modules.json "+
		"(an offline database holds index/db.json, index/modules.json and ID/<id>.json, as vuln.go.dev serves them)" {
		t.Errorf("a directory that is no database: %v", err)
	}
	if testing.Short() {
		return
	}
	_, err = Scan(ctx, ScanOptions{Dir: "testdata/nosuchdir", DB: "testdata/vulndb", Env: hermetic()})
	if !errors.Is(err, ErrScan) || !strings.HasPrefix(err.Error(), "govulncheck on testdata/nosuchdir: ") {
		t.Errorf("a missing module directory: %v", err)
	}
}

// hermetic is the environment of the go command in these tests: no
// network, no workspace, the vendored dependencies, this toolchain.
func hermetic() []string {
	return append(os.Environ(), "GOPROXY=off", "GOWORK=off", "GOFLAGS=-mod=vendor", "GOTOOLCHAIN=local")
}
