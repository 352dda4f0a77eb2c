package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/orchestrate"
	"github.com/belay-dev/belay/internal/slo"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/target"
)

// SLOReaders picks where a service's SLO windows are read from, by the
// source its analysis settings name: builtin (the samples the server keeps
// in its store) or prometheus (increase() of the agent's counters on the
// analysis's Prometheus server). An unknown name is an error.
type SLOReaders struct {
	Samples interface {
		SLOCounts(ctx context.Context, environment, service string, since time.Time) (int64, int64, bool, error)
	}
	Now func() time.Time

	mu   sync.Mutex
	prom map[string]*slo.Prometheus
}

// For returns the reader for a service's analysis settings (nil: builtin).
func (r *SLOReaders) For(a *spec.Analysis) (slo.Reader, error) {
	name := spec.SourceBuiltin
	if a != nil && a.Source != "" {
		name = a.Source
	}
	switch name {
	case spec.SourceBuiltin:
		return slo.Samples{Store: r.Samples, Now: r.Now}, nil
	case spec.SourcePrometheus:
		if a.Prometheus == nil {
			return nil, fmt.Errorf("analysis source prometheus has no server: add prometheus: {url: …} under analysis in belay.yaml")
		}
		return r.prometheus(a.Prometheus)
	}
	return nil, fmt.Errorf("analysis source %q is unknown: use builtin or prometheus", name)
}

func (r *SLOReaders) prometheus(p *spec.PrometheusSource) (slo.Reader, error) {
	key, _ := json.Marshal(p)
	r.mu.Lock()
	defer r.mu.Unlock()
	if src, ok := r.prom[string(key)]; ok {
		return src, nil
	}
	src, err := slo.NewPrometheus(p.URL, p.Timeout.D(), r.Now)
	if err != nil {
		return nil, err
	}
	if r.prom == nil {
		r.prom = map[string]*slo.Prometheus{}
	}
	r.prom[string(key)] = src
	return src, nil
}

func objectiveOf(s *spec.SLO) slo.Objective {
	e := s.Effective()
	return slo.Objective{Objective: float64(e.Objective), Window: e.Window.D()}
}

// getSLO answers GET /api/v1/slo?environment=E: every declared SLO in E
// (every environment when absent). Any valid token may read it.
func (s *Server) getSLO(r *http.Request) (any, error) {
	p, err := s.Project()
	if err != nil {
		return nil, err
	}
	envs := p.EnvironmentNames()
	if env := r.URL.Query().Get("environment"); env != "" {
		if !slices.Contains(envs, env) {
			return nil, fmt.Errorf("%w: environment %q is not defined in belay.yaml; defined: %s", orchestrate.ErrBadRequest, env, strings.Join(envs, ", "))
		}
		envs = []string{env}
	}
	rep := api.SLOReport{SLOs: []api.SLOStatus{}}
	for _, svc := range p.Services {
		if svc.SLO == nil {
			continue
		}
		for _, env := range envs {
			rep.SLOs = append(rep.SLOs, s.sloStatus(r.Context(), svc, env))
		}
	}
	slices.SortFunc(rep.SLOs, func(a, b api.SLOStatus) int {
		return strings.Compare(a.Service+"\x00"+a.Environment, b.Service+"\x00"+b.Environment)
	})
	return rep, nil
}

func (s *Server) sloStatus(ctx context.Context, svc *spec.Service, env string) api.SLOStatus {
	o := objectiveOf(svc.SLO)
	out := api.SLOStatus{Service: svc.Name, Environment: env, Objective: svc.SLO.Objective.String(),
		Window: svc.SLO.Effective().Window.String(), Source: string(spec.SourceBuiltin)}
	if svc.Analysis != nil && svc.Analysis.Source != "" {
		out.Source = string(svc.Analysis.Source)
	}
	rd, err := s.d.SLO(svc.Analysis)
	var rep slo.Report
	if err == nil {
		rep, err = slo.Judge(ctx, rd, env, svc.Name, o, slo.Pairs)
	}
	if err != nil {
		out.Status, out.Error = string(slo.StatusNoData), err.Error()
		return out
	}
	return sloAPI(out, rep)
}

func sloAPI(out api.SLOStatus, rep slo.Report) api.SLOStatus {
	out.Status = string(rep.Status)
	out.Requests, out.Errors = rep.Total.Requests, rep.Total.Errors
	out.BudgetConsumed, out.BudgetLeft = rep.BudgetConsumed, rep.BudgetLeft
	for _, p := range rep.Pairs {
		out.Pairs = append(out.Pairs, api.SLOPair{Severity: string(p.Severity), Long: slo.FormatWindow(p.Long), Short: slo.FormatWindow(p.Short),
			Factor: p.Factor, LongBurn: p.LongBurn, ShortBurn: p.ShortBurn, Firing: p.Firing, NoData: p.NoData})
	}
	return out
}

// sloSamplerLease: of several servers on one store, its holder samples
// the agent's counters for the builtin SLO source.
const sloSamplerLease = "slo-sampler"

// sampleSLOs keeps the builtin SLO source's samples while the server runs,
// when the target can tell the agent's counters, and this server holds
// the sampler's lease.
func (s *Server) sampleSLOs(ctx context.Context) {
	m, ok := s.d.Target.(target.Metrics)
	if !ok {
		return
	}
	every := s.d.SLOSampleEvery
	if every <= 0 {
		every = slo.DefaultSampleEvery
	}
	hold := func(ctx context.Context) (bool, error) {
		_, held, err := s.d.Store.AcquireLease(ctx, sloSamplerLease, s.d.Holder, 3*every, s.d.Now())
		return held, err
	}
	sm := &slo.Sampler{Metrics: m, Store: s.d.Store, Project: s.Project, Now: s.d.Now, Logger: s.d.Logger, Hold: hold}
	sm.Run(ctx, every)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = s.d.Store.ReleaseLease(ctx, sloSamplerLease, s.d.Holder)
}
