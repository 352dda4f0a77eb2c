package server

import (
	"context"
	"fmt"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/spec"
)

// named is a counters source joined with the Prometheus server that reads
// the service's named metrics (belay.yaml's metrics:).
type named struct {
	analysis.Source
	prom analysis.NamedSource
}

func (n named) Value(ctx context.Context, q analysis.Query, version, template string) (float64, bool, error) {
	return n.prom.Value(ctx, q, version, template)
}

// withNamed gives src the means to read the named metrics cfg's triggers
// watch: src itself when it reads Prometheus, else the service's (or the
// project's) analysis.prometheus server beside it.
func withNamed(sources func(*spec.Analysis) (analysis.Source, error), src analysis.Source, svc *spec.Service, cfg analysis.Config) (analysis.Source, error) {
	if !readsNamed(cfg) {
		return src, nil
	}
	if _, ok := src.(analysis.NamedSource); ok {
		return src, nil
	}
	if svc.Analysis == nil || svc.Analysis.Prometheus == nil {
		return nil, fmt.Errorf("its triggers watch metrics of metrics:, which are read from Prometheus: add analysis: {prometheus: {url: http://127.0.0.1:9090}} to the service or the project")
	}
	p, err := sources(&spec.Analysis{Source: spec.SourcePrometheus, Prometheus: svc.Analysis.Prometheus})
	if err != nil {
		return nil, err
	}
	ns, ok := p.(analysis.NamedSource)
	if !ok {
		return nil, fmt.Errorf("the prometheus source cannot read named metrics")
	}
	return named{Source: src, prom: ns}, nil
}

func readsNamed(cfg analysis.Config) bool {
	if len(cfg.Compared) > 0 {
		return true
	}
	for _, t := range cfg.Triggers {
		if t.Named != nil {
			return true
		}
	}
	return false
}

// compared are the service's ratio metrics split by version, shown canary
// beside stable in the evidence; none without a Prometheus server.
func compared(svc *spec.Service) map[string]analysis.NamedMetric {
	if svc.Analysis == nil || svc.Analysis.Prometheus == nil {
		return nil
	}
	var out map[string]analysis.NamedMetric
	for name, d := range svc.Metrics {
		if d != nil && d.Kind == spec.MetricRatio && d.ByVersion() {
			if out == nil {
				out = map[string]analysis.NamedMetric{}
			}
			out[name] = *namedMetric(svc, spec.Metric(name))
		}
	}
	return out
}

// namedMetric is how the analysis reads a trigger's metric of metrics:,
// or nil for a built-in metric.
func namedMetric(svc *spec.Service, m spec.Metric) *analysis.NamedMetric {
	d := svc.Metrics[string(m)]
	if d == nil {
		return nil
	}
	return &analysis.NamedMetric{Query: d.Query, Kind: d.Kind, ByVersion: d.ByVersion()}
}
