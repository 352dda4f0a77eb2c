package kubernetes

import (
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
		"v1":                      "hello-production-v1",
		"hello-2026.05.12-8f3a91": "hello-production-hello-2026-05-12-8f3a91-",
		"V2":                      "hello-production-v2-",
	} {
		got := objectName("production", "hello", v)
		if len(got) > 52 || got[:len(want)] != want {
			t.Fatalf("%s: %s, want prefix %s", v, got, want)
		}
	}
}
