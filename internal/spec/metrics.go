package spec

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
)

// MetricDef is a named service metric: a PromQL template that a trigger may
// watch by name (belay.yaml's metrics:, at the project or a service). The
// analysis reads it from the service's Prometheus server at every tick.
type MetricDef struct {
	Name string `yaml:"-" json:"name"`
	// Query is a PromQL template answering one number; {{service}},
	// {{version}} and {{environment}} are replaced by label values. A
	// template with {{version}} is read once per version (canary and
	// stable): it is split by version.
	Query string `yaml:"query" json:"query" belay:"required"`
	// Kind says how the metric's values are written in triggers: ratio
	// (a fraction, written 2%), duration (seconds, written 900ms) or count.
	Kind MetricKind `yaml:"kind" json:"kind" belay:"required"`
}

// ByVersion reports whether the template is read per version, so that
// canary and stable have values of their own.
func (m *MetricDef) ByVersion() bool { return strings.Contains(m.Query, "{{version}}") }

// MetricKind is a named metric's kind as belay.yaml writes it.
type MetricKind string

// Named metric kinds.
const (
	MetricRatio    MetricKind = "ratio"
	MetricDuration MetricKind = "duration"
	MetricCount    MetricKind = "count"
)

func (MetricKind) values() []string { return []string{"ratio", "duration", "count"} }

// Kind is how the metric's trigger values are written.
func (k MetricKind) Kind() Kind {
	switch k {
	case MetricRatio:
		return KindRatio
	case MetricDuration:
		return KindDuration
	}
	return KindCount
}

// MetricDefs are named metrics keyed by name.
type MetricDefs map[string]*MetricDef

// Kinds maps each metric's name to its kind, for ParseTriggerWith.
func (ms MetricDefs) Kinds() map[string]Kind {
	out := map[string]Kind{}
	for n, m := range ms {
		if m != nil {
			out[n] = m.Kind.Kind()
		}
	}
	return out
}

// mergeMetrics is a service's metrics: the project's, with the service's
// own added (a service's definition of the same name wins).
func mergeMetrics(project, svc MetricDefs) MetricDefs {
	if len(project) == 0 {
		return svc
	}
	out := maps.Clone(project)
	maps.Copy(out, svc)
	return out
}

var (
	metricNameRE  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	placeholderRE = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)
)

// placeholders are the template's placeholders, with the sample values
// a template is parsed with: as long as the placeholders, so that the
// parser's positions are the template's.
var placeholders = map[string]string{"service": "s0000000000", "version": "v0000000000", "environment": "e00000000000000"}

// ExpandQuery replaces a template's placeholders by label values, escaped
// for a PromQL string (the template supplies the quotes).
func ExpandQuery(tmpl, service, version, environment string) string {
	esc := func(s string) string {
		q := fmt.Sprintf("%q", s)
		return q[1 : len(q)-1]
	}
	return strings.NewReplacer("{{service}}", esc(service), "{{version}}", esc(version), "{{environment}}", esc(environment)).Replace(tmpl)
}

// CheckPromQL reports a template that uses an unknown placeholder or
// does not parse as PromQL once its placeholders are filled in; the error
// says where in the query (line:column) the parser stopped.
func CheckPromQL(tmpl string) error {
	for _, m := range placeholderRE.FindAllStringSubmatch(tmpl, -1) {
		if _, ok := placeholders[m[1]]; !ok || m[0] != "{{"+m[1]+"}}" {
			return fmt.Errorf("unknown placeholder %s%s: use {{service}}, {{version}} or {{environment}}", m[0], suggest(m[1], slices.Sorted(maps.Keys(placeholders))))
		}
	}
	q := ExpandQuery(tmpl, placeholders["service"], placeholders["version"], placeholders["environment"])
	_, err := parser.NewParser(parser.Options{}).ParseExpr(q)
	if err == nil {
		return nil
	}
	var pe parser.ParseErrors
	if errors.As(err, &pe) && len(pe) > 0 {
		e := pe[0]
		return fmt.Errorf("query does not parse as PromQL at %s of the query: %v", e.PositionRange.StartPosInput(e.Query, 0), e.Err)
	}
	return fmt.Errorf("query does not parse as PromQL: %v", err)
}

// checkMetrics checks one metrics: block (path "metrics" or
// "services.X.metrics"): names, kinds and templates.
func (d *decoder) checkMetrics(path string, ms MetricDefs) {
	for _, name := range slices.Sorted(maps.Keys(ms)) {
		m, at := ms[name], path+"."+name
		if m == nil {
			d.errAt(at, "metric %q is empty: give query: and kind:, e.g. {query: 'max(hello_queue_depth{version=\"{{version}}\"})', kind: count}", name)
			delete(ms, name)
			continue
		}
		m.Name = name
		if _, builtin := KindOf(Metric(name)); builtin {
			d.errAt(at, "metric %q shadows the built-in metric of that name: choose another name (built-in: %s)", name, strings.Join(Metrics(), ", "))
			delete(ms, name)
		} else if !metricNameRE.MatchString(name) {
			d.errAt(at, "metric name %q must be lower-case letters, digits and '_', starting with a letter (e.g. queue_depth)", name)
		}
		if m.Query != "" {
			if err := CheckPromQL(m.Query); err != nil {
				d.errAt(at+".query", "%v", err)
			}
		}
	}
}

// resolveTriggers parses the trigger lines that name a metric other than
// the built-in ones against the metrics in scope, reporting each bad one
// at its line. uses says whether a line names a metric of ms (parsed or
// not); at is the path of the first such line that parsed, or "".
func (d *decoder) resolveTriggers(ts Triggers, ms MetricDefs) (out Triggers, uses bool, at string) {
	kinds := ms.Kinds()
	out = ts[:0]
	for _, t := range ts {
		if !t.pending {
			out = append(out, t)
			continue
		}
		if _, ok := kinds[string(t.Metric)]; ok {
			uses = true
		}
		r, err := ParseTriggerWith(t.Raw, kinds)
		if err == nil && r.Relative {
			if m := ms[string(r.Metric)]; !m.ByVersion() {
				err = fmt.Errorf("%w %q: metric %s has no {{version}} in its query, so canary and stable cannot be told apart: add version=\"{{version}}\" to its selector, or compare with an absolute value", ErrTrigger, r.Raw, r.Metric)
			}
		}
		if err != nil {
			d.addErr(d.where(t.at), t.at, ErrTrigger, err.Error())
			continue
		}
		if at == "" {
			at = t.at
		}
		out = append(out, r)
	}
	return out, uses, at
}

// checkNamedMetrics parses a service's trigger lines that name its metrics
// (the project's and its own) and requires the Prometheus server they are
// read from.
func (d *decoder) checkNamedMetrics(p *Project, s *Service, path string) {
	d.checkMetrics(path+".metrics", s.Metrics)
	s.Metrics = mergeMetrics(p.Metrics, s.Metrics)
	var uses bool
	var at string
	s.RollbackTrigger, uses, at = d.resolveTriggers(s.RollbackTrigger, s.Metrics)
	d.promUsed[path] = uses
	if at != "" && (s.Analysis == nil || s.Analysis.Prometheus == nil) {
		d.errAt(at, "this trigger watches a metric of metrics:, which is read from Prometheus, but service %q has no Prometheus server: add analysis: {prometheus: {url: http://127.0.0.1:9090}} to the service or the project", s.Name)
	}
}
