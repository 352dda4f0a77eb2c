package agent

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricsDocumented: docs/metrics.md's agent table lists every metric
// the agent serves, with its labels, and nothing else.
func TestMetricsDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start := strings.Index(doc, "\n## Agent\n")
	if start < 0 {
		t.Fatal("docs/metrics.md has no ## Agent section")
	}
	section := doc[start+1:]
	if end := strings.Index(section[1:], "\n## "); end >= 0 {
		section = section[:end+1]
	}
	documented := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(belay_[a-z_]+)` \\| [a-z]+ \\| ([^|]*) \\|").FindAllStringSubmatch(section, -1) {
		documented[m[1]] = strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(m[2]), "`", ""), " ", "")
	}
	ch := make(chan *prometheus.Desc, 100)
	(&collector{}).Describe(ch)
	close(ch)
	served := map[string]string{}
	desc := regexp.MustCompile(`fqName: "([^"]+)".*variableLabels: \{([^}]*)\}`)
	for d := range ch {
		m := desc.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("unreadable %s", d)
		}
		served[m[1]] = m[2]
	}
	for name, labels := range served {
		if doc, ok := documented[name]; !ok {
			t.Errorf("%s{%s} is served but not in docs/metrics.md's agent table", name, labels)
		} else if doc != labels {
			t.Errorf("%s: docs/metrics.md says labels %s, the agent has %s", name, doc, labels)
		}
	}
	for name := range documented {
		if _, ok := served[name]; !ok {
			t.Errorf("%s is in docs/metrics.md's agent table but the agent has no such metric", name)
		}
	}
	if len(served) < 10 {
		t.Errorf("only %d metrics described: %v", len(served), served)
	}
}
