package server

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/analysis/prometheus"
	"github.com/belay-dev/belay/internal/spec"
)

// Sources picks each service's metric source by the name its analysis
// settings give. An unknown name is an error, never a fallback to builtin:
// a rollout judged on other metrics than the ones configured is not judged.
type Sources struct {
	Builtin analysis.Source // the agent's counters

	mu   sync.Mutex
	prom map[string]*prometheus.Source // by settings, so edits to belay.yaml apply
}

// For returns the source for a service's analysis settings (nil: builtin).
func (s *Sources) For(a *spec.Analysis) (analysis.Source, error) {
	name := spec.SourceBuiltin
	if a != nil && a.Source != "" {
		name = a.Source
	}
	switch name {
	case spec.SourceBuiltin:
		return s.Builtin, nil
	case spec.SourcePrometheus:
		if a.Prometheus == nil {
			return nil, fmt.Errorf("analysis source prometheus has no server: add prometheus: {url: …} under analysis in belay.yaml")
		}
		return s.prometheus(a.Prometheus)
	}
	return nil, fmt.Errorf("analysis source %q is unknown: use builtin or prometheus", name)
}

func (s *Sources) prometheus(p *spec.PrometheusSource) (analysis.Source, error) {
	key, _ := json.Marshal(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	if src, ok := s.prom[string(key)]; ok {
		return src, nil
	}
	src, err := prometheus.New(p.URL, templates(p.Queries), p.Timeout.D())
	if err != nil {
		return nil, err
	}
	if s.prom == nil {
		s.prom = map[string]*prometheus.Source{}
	}
	s.prom[string(key)] = src
	return src, nil
}

// templates are the default queries with the configured ones replacing them.
func templates(q *spec.PrometheusQueries) prometheus.Templates {
	t := prometheus.DefaultTemplates
	if q == nil {
		return t
	}
	for _, f := range []struct {
		dst *string
		v   string
	}{{&t.Requests, q.Requests}, {&t.Errors, q.Errors}, {&t.Buckets, q.Buckets}, {&t.HealthFailures, q.HealthFailures}, {&t.Restarts, q.Restarts}} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	return t
}
