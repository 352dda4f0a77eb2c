package vuln

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// now is the time the tests judge at: after expired.bad.yaml's waiver ran
// out (2026-05-01), before the others do.
var now = time.Date(2026, 6, 1, 9, 30, 0, 0, time.UTC)

func readPolicy(t *testing.T, name string) Policy {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePolicy(name, data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParsePolicy(t *testing.T) {
	p := readPolicy(t, "testdata/policy/image.yaml")
	if !slices.Equal(p.Block, []Rule{"critical", "high_with_fix", "called"}) {
		t.Errorf("block %v", p.Block)
	}
	want := []Waiver{
		{ID: "CVE-2023-45853", Reason: "zlib1g's MiniZip is not used by anything in the image; Debian will not fix it", Expires: "2026-12-31", Line: 4},
		{ID: "GHSA-2wrh-6pvc-2jm9", Reason: "we render no HTML", Expires: "2026-09-30", Line: 7},
	}
	if !slices.Equal(p.Waivers, want) {
		t.Errorf("waivers\n got %+v\nwant %+v", p.Waivers, want)
	}

	empty, err := ParsePolicy("empty.yaml", nil)
	if err != nil || !slices.Equal(empty.Block, DefaultRules) {
		t.Errorf("an empty file: %v, %v; want the default rules", empty.Block, err)
	}
	none, err := ParsePolicy("none.yaml", []byte("block: []\n"))
	if err != nil || len(none.Block) != 0 {
		t.Errorf("block: [] gives %v, %v; want no rules", none.Block, err)
	}
}

// TestBadPolicies checks that every testdata/policy/*.bad.yaml is refused,
// when read or when judged at now, with exactly the message in its sibling
// .err file.
func TestBadPolicies(t *testing.T) {
	files, err := filepath.Glob("testdata/policy/*.bad.yaml")
	if err != nil || len(files) < 10 {
		t.Fatalf("bad policies: %v, %v", files, err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".bad.yaml"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			p, perr := ParsePolicy(f, data)
			if perr == nil {
				_, perr = Evaluate(nil, p, now)
			}
			if perr == nil {
				t.Fatalf("%s was accepted", f)
			}
			if !errors.Is(perr, ErrPolicy) && !errors.Is(perr, ErrWaiverExpired) {
				t.Errorf("error wraps neither ErrPolicy nor ErrWaiverExpired: %v", perr)
			}
			golden(t, strings.TrimSuffix(f, ".bad.yaml")+".err", perr.Error()+"\n")
		})
	}
}

func TestWaiverExpiry(t *testing.T) {
	w := Waiver{ID: "CVE-1", Reason: "r", Expires: "2026-05-31"}
	for _, tc := range []struct {
		at      time.Time
		expired bool
	}{
		{time.Date(2026, 5, 31, 0, 0, 0, 0, time.UTC), false},
		{time.Date(2026, 5, 31, 23, 59, 59, 0, time.UTC), false}, // it holds through its last day
		{time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), true},
	} {
		if got := w.expired(tc.at); got != tc.expired {
			t.Errorf("expired at %s = %t, want %t", tc.at, got, tc.expired)
		}
	}
}
