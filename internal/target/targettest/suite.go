// Package targettest is the behaviour every target.Target must show: apply,
// observe, weights in force, idempotent apply, refusal of a version that never
// becomes healthy or whose artifact cannot be opened, applying no versions
// (everything stops), and (when the target has the ability) counters.
package targettest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/target"
)

// Harness adapts a target to the suite.
type Harness struct {
	Target target.Target
	// Base is a desired state with environment, service and listen filled in;
	// the suite sets its versions.
	Base target.Desired
	// Good returns a version that becomes healthy; Sick one that never does
	// (its health timeout short); Missing one whose artifact cannot be opened.
	Good, Sick, Missing func(name string, weight float64) target.Version
	// Request, when set, sends one request through the target's traffic
	// split and returns the version that answered.
	Request func(o target.Observed) (string, error)
	// Achieved, for a target that cannot put every weight in force exactly
	// (weights from replica counts), returns the weights it must report for
	// vs; nil means exactly the weights asked for.
	Achieved func(vs []target.Version) map[string]float64
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	ctx := context.Background()
	want := func(vs ...target.Version) target.Desired { d := h.Base; d.Versions = vs; return d }
	env, svc := h.Base.Environment, h.Base.Service

	t.Run("ObserveUnknown", func(t *testing.T) {
		if _, err := h.Target.Observe(ctx, env, "never-deployed"); !errors.Is(err, target.ErrNotFound) {
			t.Fatalf("want ErrNotFound, got %v", err)
		}
	})
	t.Run("ApplyObserve", func(t *testing.T) {
		mustApply(t, h, want(h.Good("v1", 100)))
		o := observe(t, h)
		if len(o.Versions) != 1 || o.Versions[0].Version != "v1" || o.Versions[0].Weight != 100 || o.Versions[0].Ready != o.Versions[0].Instances {
			t.Fatalf("observed %+v", o)
		}
		if h.Request != nil {
			if v, err := h.Request(o); err != nil || v != "v1" {
				t.Fatalf("request: %q %v", v, err)
			}
		}
	})
	t.Run("Weights", func(t *testing.T) {
		vs := []target.Version{h.Good("v1", 75.5), h.Good("v2", 24.5)}
		mustApply(t, h, want(vs...))
		o := observe(t, h)
		w := map[string]float64{}
		for _, v := range o.Versions {
			w[v.Version] = v.Weight
		}
		exp := map[string]float64{"v1": 75.5, "v2": 24.5}
		if h.Achieved != nil {
			exp = h.Achieved(vs)
		}
		if w["v1"] != exp["v1"] || w["v2"] != exp["v2"] || len(w) != 2 {
			t.Fatalf("weights in force %v, want %v", w, exp)
		}
		if h.Request == nil {
			return
		}
		n := map[string]int{}
		for range 400 {
			v, err := h.Request(o)
			if err != nil {
				t.Fatal(err)
			}
			n[v]++
		}
		if lo, hi := 400*exp["v2"]/100-40, 400*exp["v2"]/100+40; float64(n["v2"]) < lo || float64(n["v2"]) > hi {
			t.Fatalf("v2 served %d of 400 at %g%%", n["v2"], exp["v2"])
		}
	})
	t.Run("IdempotentApply", func(t *testing.T) {
		d := want(h.Good("v1", 50), h.Good("v2", 50))
		mustApply(t, h, d)
		before := observe(t, h)
		mustApply(t, h, d)
		after := observe(t, h)
		for i := range before.Versions {
			b, a := before.Versions[i], after.Versions[i]
			if a.Version != b.Version || a.Weight != b.Weight || a.Restarts != b.Restarts || a.Ready != b.Ready {
				t.Fatalf("second apply changed %+v into %+v", b, a)
			}
		}
	})
	t.Run("UnhealthyRefused", func(t *testing.T) {
		mustApply(t, h, want(h.Good("v1", 100)))
		err := h.Target.Apply(ctx, want(h.Good("v1", 90), h.Sick("bad", 10)))
		if !errors.Is(err, target.ErrUnhealthy) {
			t.Fatalf("want ErrUnhealthy, got %v", err)
		}
		o := observe(t, h)
		if len(o.Versions) != 1 || o.Versions[0].Version != "v1" || o.Versions[0].Weight != 100 {
			t.Fatalf("after a refused change: %+v", o)
		}
	})
	t.Run("MissingArtifactRefused", func(t *testing.T) {
		err := h.Target.Apply(ctx, want(h.Good("v1", 90), h.Missing("gone", 10)))
		if !errors.Is(err, target.ErrArtifact) {
			t.Fatalf("want ErrArtifact, got %v", err)
		}
	})
	t.Run("InvalidRefused", func(t *testing.T) {
		err := h.Target.Apply(ctx, want(h.Good("v1", 90)))
		if !errors.Is(err, target.ErrInvalid) {
			t.Fatalf("weights adding up to 90: want ErrInvalid, got %v", err)
		}
	})
	t.Run("NoVersions", func(t *testing.T) {
		mustApply(t, h, want(h.Good("v1", 100)))
		for range 2 { // the second time changes nothing
			mustApply(t, h, want())
			o := observe(t, h)
			if len(o.Versions) != 0 {
				t.Fatalf("after applying no versions: %+v", o)
			}
			if h.Request != nil {
				if v, err := h.Request(o); err == nil {
					t.Fatalf("a request was served by %q with no versions", v)
				}
			}
		}
		mustApply(t, h, want(h.Good("v1", 100)))
		if h.Request != nil {
			if v, err := h.Request(observe(t, h)); err != nil || v != "v1" {
				t.Fatalf("deploying again after none: %q %v", v, err)
			}
		}
	})
	t.Run("Counters", func(t *testing.T) {
		m, ok := h.Target.(target.Metrics)
		if !ok || h.Request == nil {
			t.Skip("target has no metrics ability or no request path")
		}
		mustApply(t, h, want(h.Good("v1", 100)))
		before := requests(t, m, env, svc)
		for range 10 {
			if _, err := h.Request(observe(t, h)); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for requests(t, m, env, svc)-before < 10 {
			if time.Now().After(deadline) {
				t.Fatalf("counters grew by %d after 10 requests", requests(t, m, env, svc)-before)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

func mustApply(t *testing.T, h Harness, d target.Desired) {
	t.Helper()
	if err := h.Target.Apply(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

func observe(t *testing.T, h Harness) target.Observed {
	t.Helper()
	o, err := h.Target.Observe(context.Background(), h.Base.Environment, h.Base.Service)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func requests(t *testing.T, m target.Metrics, env, svc string) int64 {
	t.Helper()
	cs, err := m.Counters(context.Background(), env, svc)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, c := range cs {
		if c.Version == "v1" {
			n += c.Requests
		}
	}
	return n
}
