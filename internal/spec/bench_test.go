package spec

import (
	"os"
	"testing"
)

// BenchmarkParseCaseStudy measures parsing and checking the case study's
// belay.yaml, which validate and every server start do.
func BenchmarkParseCaseStudy(b *testing.B) {
	data, err := os.ReadFile("../../examples/case-study/belay.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("belay.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseTrigger measures one trigger line.
func BenchmarkParseTrigger(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseTrigger("p95_latency > 900ms for 10m"); err != nil {
			b.Fatal(err)
		}
	}
}
