// Package builtin is the analysis source for the belay agent's own
// per-version counters, read through a target that has the Metrics ability.
package builtin

import (
	"context"
	"fmt"
	"slices"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/target"
)

// Source adapts a target.Metrics to analysis.Source.
type Source struct{ m target.Metrics }

var _ analysis.Source = (*Source)(nil)

// New wraps m.
func New(m target.Metrics) *Source { return &Source{m: m} }

// Counters returns the counters of the asked versions; a failing target is
// reported as analysis.ErrNoData so the analysis says "metrics unavailable".
func (s *Source) Counters(ctx context.Context, q analysis.Query) ([]target.Counters, error) {
	cs, err := s.m.Counters(ctx, q.Environment, q.Service)
	if err != nil {
		return nil, fmt.Errorf("%w: builtin counters of %s in %s: %v", analysis.ErrNoData, q.Service, q.Environment, err)
	}
	if len(q.Versions) == 0 {
		return cs, nil
	}
	out := cs[:0:0]
	for _, c := range cs {
		if slices.Contains(q.Versions, c.Version) {
			out = append(out, c)
		}
	}
	return out, nil
}
