package slo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// The belay agent's counters (internal/agent/metrics.go), labelled service,
// version, environment (and code_class on requests).
const (
	RequestsMetric = "belay_requests_total"
	ErrorsMetric   = "belay_request_errors_total"
)

// Prometheus reads windows as increase(...[W]) of the agent's counters,
// summed over versions and code classes, from one Prometheus server.
type Prometheus struct {
	addr    string
	api     v1.API
	timeout time.Duration
	now     func() time.Time
}

var _ Reader = (*Prometheus)(nil)

// NewPrometheus connects to the Prometheus at address (http://host:port);
// timeout bounds each query (default 5 s), now is the evaluation time
// (default time.Now).
func NewPrometheus(address string, timeout time.Duration, now func() time.Time) (*Prometheus, error) {
	c, err := api.NewClient(api.Config{Address: address})
	if err != nil {
		return nil, fmt.Errorf("slo: prometheus address %q: %w; use http://host:port", address, err)
	}
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	return &Prometheus{addr: address, api: v1.NewAPI(c), timeout: timeout, now: now}, nil
}

// Query is the PromQL that counts a metric of a service in an environment
// over a window; the recording rules use the same selector.
func Query(metric, environment, service string, window time.Duration) string {
	return fmt.Sprintf(`sum(increase(%s{%s}[%s]))`, metric, selector(environment, service), FormatWindow(window))
}

func selector(environment, service string) string {
	return "service=" + strconv.Quote(service) + ",environment=" + strconv.Quote(environment)
}

// Counts implements Reader.
func (p *Prometheus) Counts(ctx context.Context, environment, service string, window time.Duration) (Counts, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	now := p.now()
	req, ok, err := p.scalar(ctx, Query(RequestsMetric, environment, service, window), now)
	if err != nil || !ok {
		return Counts{}, false, err
	}
	errs, _, err := p.scalar(ctx, Query(ErrorsMetric, environment, service, window), now)
	if err != nil {
		return Counts{}, false, err
	}
	return Counts{Requests: req, Errors: errs}, true, nil
}

func (p *Prometheus) scalar(ctx context.Context, promql string, now time.Time) (float64, bool, error) {
	val, _, _, err := p.api.Query(ctx, promql, now)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s", p.timeout)
		}
		return 0, false, fmt.Errorf("%w: prometheus at %s, query %s: %v", ErrNoData, p.addr, promql, err)
	}
	vec, ok := val.(model.Vector)
	if !ok {
		return 0, false, fmt.Errorf("%w: prometheus at %s, query %s: got a %s, want an instant vector", ErrNoData, p.addr, promql, val.Type())
	}
	if len(vec) == 0 {
		return 0, false, nil
	}
	return float64(vec[0].Value), true, nil
}
