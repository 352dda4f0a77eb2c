package agent

import (
	"testing"

	"github.com/belay-dev/belay/internal/metricsdoc"
	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricsDocumented: docs/metrics.md's agent table lists every metric
// the agent serves, with its labels, and nothing else.
func TestMetricsDocumented(t *testing.T) {
	problems, err := metricsdoc.Check("../../docs/metrics.md", "Agent", func(ch chan<- *prometheus.Desc) { (&collector{}).Describe(ch) })
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}
