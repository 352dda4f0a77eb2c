package kubernetes

import (
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/target"
)

func TestReplicaShares(t *testing.T) {
	vw := func(ws ...float64) []target.Version {
		var vs []target.Version
		for _, w := range ws {
			vs = append(vs, target.Version{Instances: 4, Weight: w})
		}
		return vs
	}
	for _, c := range []struct {
		weights []float64
		want    []int32
	}{
		{[]float64{100}, []int32{4}},
		{[]float64{75.5, 24.5}, []int32{3, 1}},
		{[]float64{90, 10}, []int32{3, 1}}, // a canary keeps one replica
		{[]float64{50, 50}, []int32{2, 2}},
		{[]float64{0, 100}, []int32{4, 4}}, // weight 0: started, outside the Service
		{[]float64{99, 0.5, 0.5}, []int32{2, 1, 1}},
	} {
		got := replicaShares(vw(c.weights...))
		for i := range got {
			if got[i] != c.want[i] {
				t.Fatalf("%v: %v, want %v", c.weights, got, c.want)
			}
		}
	}
}

func TestObjectName(t *testing.T) {
	for v, want := range map[string]string{
		"v1":                      "hello-production-v1-",
		"hello-2026.05.12-8f3a91": "hello-production-hello-2026-05-12-8f3a91-",
		"V2":                      "hello-production-v2-",
		strings.Repeat("x", 80):   "hello-production-xxx",
	} {
		got := objectName("production", "hello", v)
		if len(got) > 52 || !strings.HasPrefix(got, want) || !dnsLabel.MatchString(got) {
			t.Fatalf("%s: %s, want prefix %s, at most 52 characters", v, got, want)
		}
	}
	if got := base("production", "hello"); !strings.HasPrefix(got, "hello-production-") || len(got) != len("hello-production-")+6 {
		t.Fatalf("base: %s", got)
	}
}

// Names never collide across services, environments and versions whose
// plain joins are the same string.
func TestNamesUnambiguous(t *testing.T) {
	type svc struct{ service, env, version string }
	seen := map[string]svc{}
	for _, s := range []svc{
		{"api", "prod", ""}, {"api", "prod", "canary"}, {"api", "prod-canary", ""}, {"api", "prod-canary", "v1"},
		{"a-b", "c", ""}, {"a", "b-c", ""}, {"a-b", "c", "v1"}, {"a", "b-c", "v1"}, {"a", "b", "c-v1"}, {"a", "b-c", "V1"},
	} {
		name := base(s.env, s.service)
		if s.version != "" {
			name = objectName(s.env, s.service, s.version)
		}
		if o, ok := seen[name]; ok {
			t.Fatalf("%+v and %+v are both named %s", o, s, name)
		}
		seen[name] = s
	}
}
