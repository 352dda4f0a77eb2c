// Package metricsdoc holds docs/metrics.md to the metrics a component
// serves: its tests compare a section's table with their descriptors.
package metricsdoc

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	row  = regexp.MustCompile("(?m)^\\| `(belay_[a-z_]+)` \\| [a-z]+ \\| ([^|]*) \\|")
	desc = regexp.MustCompile(`fqName: "([^"]+)".*variableLabels: \{([^}]*)\}`)
)

// Check reads the "## <section>" table of the docs file at path and says
// every way it disagrees with describe's descriptors: a metric served but
// not documented, documented but not served, or with other labels.
func Check(path, section string, describe func(chan<- *prometheus.Desc)) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	doc := string(b)
	start := strings.Index(doc, "\n## "+section+"\n")
	if start < 0 {
		return nil, fmt.Errorf("%s has no ## %s section", path, section)
	}
	text := doc[start+1:]
	if end := strings.Index(text[1:], "\n## "); end >= 0 {
		text = text[:end+1]
	}
	documented := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(text, -1) {
		documented[m[1]] = strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(m[2]), "`", ""), " ", "")
	}
	ch := make(chan *prometheus.Desc, 100)
	go func() {
		describe(ch)
		close(ch)
	}()
	served := map[string]string{}
	var problems []string
	for d := range ch {
		m := desc.FindStringSubmatch(d.String())
		if m == nil {
			problems = append(problems, "unreadable descriptor "+d.String())
			continue
		}
		served[m[1]] = m[2]
	}
	for name, labels := range served {
		if doc, ok := documented[name]; !ok {
			problems = append(problems, fmt.Sprintf("%s{%s} is served but not in the %s table", name, labels, section))
		} else if doc != labels {
			problems = append(problems, fmt.Sprintf("%s: the %s table says labels %s, the code has %s", name, section, doc, labels))
		}
	}
	for name := range documented {
		if _, ok := served[name]; !ok {
			problems = append(problems, fmt.Sprintf("%s is in the %s table but nothing serves it", name, section))
		}
	}
	if len(served) < 10 {
		problems = append(problems, fmt.Sprintf("only %d metrics described", len(served)))
	}
	return problems, nil
}
