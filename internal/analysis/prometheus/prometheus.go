// Package prometheus is the analysis source that reads per-version counters
// from a Prometheus server with PromQL templates. Placeholders {{service}},
// {{version}} and {{environment}} are replaced by label values, escaped for
// a PromQL string (the templates supply the quotes).
package prometheus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/target"
)

const sel = `service="{{service}}",environment="{{environment}}",version="{{version}}"`

// Templates are the PromQL queries, each answering one number per version
// (Buckets: one series per `le`). Empty HealthFailures or Restarts are skipped.
type Templates struct {
	Requests       string `json:"requests"`
	Errors         string `json:"errors"`
	Buckets        string `json:"buckets"`
	HealthFailures string `json:"health_failures,omitempty"`
	Restarts       string `json:"restarts,omitempty"`
}

// DefaultTemplates match the belay agent's metric names (internal/agent/metrics.go):
// the counters belay_requests_total{service,version,environment,code_class},
// belay_request_errors_total (5xx answers and proxy errors),
// belay_health_check_failures_total and belay_instance_restarts_total, and
// the histogram belay_request_duration_seconds, all labelled service,
// version, environment.
var DefaultTemplates = Templates{
	Requests:       `sum(belay_requests_total{` + sel + `})`,
	Errors:         `sum(belay_request_errors_total{` + sel + `})`,
	Buckets:        `sum by (le) (belay_request_duration_seconds_bucket{` + sel + `})`,
	HealthFailures: `sum(belay_health_check_failures_total{` + sel + `})`,
	Restarts:       `sum(belay_instance_restarts_total{` + sel + `})`,
}

// Source queries one Prometheus server.
type Source struct {
	addr      string
	api       v1.API
	templates Templates
	timeout   time.Duration
}

var _ analysis.Source = (*Source)(nil)

// New connects to the Prometheus at address (http://host:port). Zero
// templates take DefaultTemplates; timeout bounds each Counters call
// (default 5 s) so a slow server is "metrics unavailable", not a hang.
func New(address string, t Templates, timeout time.Duration) (*Source, error) {
	c, err := api.NewClient(api.Config{Address: address})
	if err != nil {
		return nil, fmt.Errorf("prometheus source: address %q: %w; use http://host:port", address, err)
	}
	if t == (Templates{}) {
		t = DefaultTemplates
	}
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	return &Source{addr: address, api: v1.NewAPI(c), templates: t, timeout: timeout}, nil
}

// Counters asks for each version in turn. A version without a request
// series is left out (no data); any failed query fails the whole call with
// analysis.ErrNoData, so a half-read tick is never judged.
func (s *Source) Counters(ctx context.Context, q analysis.Query) ([]target.Counters, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	now := time.Now()
	var out []target.Counters
	for _, v := range q.Versions {
		c, ok, err := s.version(ctx, q, v, now)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *Source) version(ctx context.Context, q analysis.Query, version string, now time.Time) (target.Counters, bool, error) {
	c := target.Counters{Version: version, At: now}
	r := strings.NewReplacer("{{service}}", esc(q.Service), "{{environment}}", esc(q.Environment), "{{version}}", esc(version))
	req, ok, err := s.scalar(ctx, r.Replace(s.templates.Requests), now)
	if err != nil || !ok {
		return c, false, err
	}
	c.Requests = req
	for _, f := range []struct {
		tmpl string
		dst  *int64
	}{{s.templates.Errors, &c.Errors}, {s.templates.HealthFailures, &c.HealthFailures}, {s.templates.Restarts, &c.Restarts}} {
		if f.tmpl == "" {
			continue
		}
		if *f.dst, _, err = s.scalar(ctx, r.Replace(f.tmpl), now); err != nil {
			return c, false, err
		}
	}
	if s.templates.Buckets != "" {
		vec, err := s.query(ctx, r.Replace(s.templates.Buckets), now)
		if err != nil {
			return c, false, err
		}
		c.LatencyBounds, c.LatencyCounts = buckets(vec)
	}
	return c, true, nil
}

func (s *Source) query(ctx context.Context, promql string, now time.Time) (model.Vector, error) {
	val, _, _, err := s.api.Query(ctx, promql, now)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s", s.timeout)
		}
		return nil, fmt.Errorf("%w: prometheus at %s, query %s: %v", analysis.ErrNoData, s.addr, promql, err)
	}
	vec, ok := val.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("%w: prometheus at %s, query %s: got a %s, want an instant vector", analysis.ErrNoData, s.addr, promql, val.Type())
	}
	return vec, nil
}

// scalar reads a one-series answer; no series is (0, false).
func (s *Source) scalar(ctx context.Context, promql string, now time.Time) (int64, bool, error) {
	vec, err := s.query(ctx, promql, now)
	if err != nil || len(vec) == 0 {
		return 0, false, err
	}
	return int64(math.Round(float64(vec[0].Value))), true, nil
}

// buckets turns cumulative `le` series into per-bucket counts with finite
// bounds; the +Inf bucket is the last count.
func buckets(vec model.Vector) ([]float64, []int64) {
	type b struct {
		le  float64
		cum float64
	}
	var bs []b
	for _, smp := range vec {
		le, err := strconv.ParseFloat(string(smp.Metric["le"]), 64)
		if err == nil {
			bs = append(bs, b{le, float64(smp.Value)})
		}
	}
	if len(bs) == 0 {
		return nil, nil
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	var bounds []float64
	var counts []int64
	prev := 0.0
	for _, x := range bs {
		if !math.IsInf(x.le, 1) {
			bounds = append(bounds, x.le)
		}
		counts = append(counts, int64(math.Round(math.Max(x.cum-prev, 0))))
		prev = x.cum
	}
	if !math.IsInf(bs[len(bs)-1].le, 1) {
		counts = append(counts, 0)
	}
	return bounds, counts
}

func esc(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

var _ analysis.NamedSource = (*Source)(nil)

// Value answers a named metric's template (belay.yaml's metrics:) for one
// version ("" leaves {{version}} empty) as one number: the first series'
// value; no series, or a NaN, is no data (ok false).
func (s *Source) Value(ctx context.Context, q analysis.Query, version, template string) (float64, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	now := time.Now()
	vec, err := s.query(ctx, spec.ExpandQuery(template, q.Service, version, q.Environment), now)
	if err != nil || len(vec) == 0 {
		return 0, false, err
	}
	v := float64(vec[0].Value)
	return v, !math.IsNaN(v), nil
}
