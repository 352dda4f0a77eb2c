package spec

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseTrigger: no input panics, and what parses is well-formed and
// parses again to the same trigger.
func FuzzParseTrigger(f *testing.F) {
	for _, s := range []string{"error_rate > 1% for 5m", "p95_latency > 900ms for 10m", "health_check_failures > 3",
		"p95_latency > baseline + 20%", "error_rate>=0.5%", "restarts <= 2 for 1h", "p99_latency < 1.5s", "eror_rate > 1%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tr, err := ParseTrigger(s)
		if err != nil {
			if !errors.Is(err, ErrTrigger) {
				t.Fatalf("%q: error does not wrap ErrTrigger: %v", s, err)
			}
			return
		}
		if _, ok := KindOf(tr.Metric); !ok {
			t.Fatalf("%q: unknown metric accepted", s)
		}
		if math.IsNaN(tr.Value) || math.IsInf(tr.Value, 0) || tr.Value < 0 || tr.Margin < 0 || tr.For < 0 {
			t.Fatalf("%q: bad numbers %+v", s, tr)
		}
		again, err := ParseTrigger(tr.String())
		if err != nil || again != tr {
			t.Fatalf("%q: does not round-trip: %+v / %v", s, again, err)
		}
	})
}

// FuzzLoad: no document panics or hangs; a rejected one says where, and an
// accepted one is complete (health checks, defaults) and encodes as JSON.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.bad.yaml")
	seeds = append(seeds, "../../examples/case-study/belay.yaml", "../../examples/case-study/release-plan.yaml", "../../examples/hello/belay.yaml")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Parse("f.yaml", data)
		_, again := Parse("f.yaml", data)
		if (err == nil) != (again == nil) || err != nil && err.Error() != again.Error() {
			t.Fatalf("two parses disagree:\n%v\n--\n%v", err, again)
		}
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error is not a non-empty Errors: %v", err)
			}
			for _, e := range es {
				if e.File != "f.yaml" || e.Line < 0 || e.Msg == "" {
					t.Fatalf("error without place or message: %#v", e)
				}
			}
			return
		}
		switch doc.Kind {
		case KindProject:
			checkLoaded(t, doc.Project)
		case KindReleasePlan:
			if doc.ReleasePlan == nil || doc.ReleasePlan.Version == doc.ReleasePlan.PreviousStable || len(doc.ReleasePlan.RollbackTrigger) == 0 {
				t.Fatalf("incomplete release plan accepted: %+v", doc.ReleasePlan)
			}
		default:
			t.Fatalf("unknown kind %q", doc.Kind)
		}
		if _, err := json.Marshal(doc); err != nil {
			t.Fatalf("model does not encode: %v", err)
		}
	})
}

func checkLoaded(t *testing.T, p *Project) {
	t.Helper()
	if len(p.Services) == 0 || len(p.Environments) == 0 || len(p.ServiceNames()) != len(p.Services) {
		t.Fatalf("project without services or environments accepted")
	}
	for _, name := range p.ServiceNames() {
		s := p.Service(name)
		if s.HealthCheck == nil || s.Run == nil || s.Rollout == nil || s.Analysis == nil || s.Analysis.Alpha == 0 {
			t.Fatalf("service %s incomplete: %+v", name, s)
		}
		if len(s.RollbackTrigger) == 0 {
			t.Fatalf("service %s reaches production without triggers", name)
		}
		for _, e := range p.Environments {
			eff, err := p.Effective(name, e.Name)
			if err != nil || eff.Instances < 1 || eff.Rollout == nil {
				t.Fatalf("effective %s/%s: %+v %v", name, e.Name, eff, err)
			}
		}
	}
}
