package slo

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/target"
)

// Samples is the builtin source: windows summed from the samples the
// server keeps in its store (see Sampler), to within one store.SLOBucket.
type Samples struct {
	Store interface {
		SLOCounts(ctx context.Context, environment, service string, since time.Time) (int64, int64, bool, error)
	}
	Now func() time.Time // default time.Now
}

var _ Reader = Samples{}

// Counts implements Reader.
func (s Samples) Counts(ctx context.Context, environment, service string, window time.Duration) (Counts, bool, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	req, errs, ok, err := s.Store.SLOCounts(ctx, environment, service, now().Add(-window))
	if err != nil {
		return Counts{}, false, fmt.Errorf("%w: %v", ErrNoData, err)
	}
	return Counts{Requests: float64(req), Errors: float64(errs)}, ok, nil
}

// SampleStore is where a Sampler writes.
type SampleStore interface {
	AddSLOSample(ctx context.Context, s store.SLOSample) error
	PruneSLOSamples(ctx context.Context, before time.Time) (int64, error)
}

// Sampler reads the agent's cumulative per-version counters of every
// service with an slo: in every environment, and stores their increases
// since its last reading. A counter that went down was reset (the agent or
// the version restarted): its new value is the increase. The first reading
// after the sampler starts is a baseline only, so the time the server was
// down is not counted.
type Sampler struct {
	Metrics target.Metrics
	Store   SampleStore
	Project func() (*spec.Project, error)
	Now     func() time.Time
	Logger  *slog.Logger
	// Hold, when set, says before each reading whether this process may
	// sample: of several servers on one store, the holder of a lease does,
	// so that no request is counted twice. A reading after a time without it
	// is a new baseline: what another server counted meanwhile is not
	// counted again.
	Hold func(ctx context.Context) (bool, error)

	held    bool
	mu      sync.Mutex
	prev    map[string]map[string]target.Counters // env/service → version → last reading
	failing map[string]string                     // env/service → the last error logged
}

// DefaultSampleEvery is how often the server samples.
const DefaultSampleEvery = 10 * time.Second

// Run samples every interval until ctx ends.
func (s *Sampler) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = DefaultSampleEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.log().Warn("slo: sampling", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick samples if this process holds the sampling (Hold).
func (s *Sampler) Tick(ctx context.Context) error {
	if !s.hold(ctx) {
		return nil
	}
	return s.Sample(ctx)
}

// hold asks Hold, forgetting the last readings when this process starts
// to hold it again.
func (s *Sampler) hold(ctx context.Context) bool {
	if s.Hold == nil {
		return true
	}
	held, err := s.Hold(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log().Warn("slo: sampling lease", "err", err)
		}
		held = false
	}
	if held != s.held {
		if held {
			s.mu.Lock()
			s.prev = nil
			s.mu.Unlock()
			s.log().Info("slo: sampling from this server")
		} else {
			s.log().Info("slo: another server samples")
		}
		s.held = held
	}
	return held
}

func (s *Sampler) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// Sample takes one reading of every service with an SLO in every
// environment, then prunes samples older than the longest SLO window. A
// service the agent cannot answer for is skipped (logged), not stored as
// zero: a gap is no data.
func (s *Sampler) Sample(ctx context.Context) error {
	p, err := s.Project()
	if err != nil {
		return err
	}
	now := s.Now()
	var longest time.Duration
	for _, svc := range p.Services {
		if svc.SLO == nil {
			continue
		}
		longest = max(longest, svc.SLO.Effective().Window.D())
		for _, env := range p.EnvironmentNames() {
			cs, err := s.Metrics.Counters(ctx, env, svc.Name)
			s.noteFailure(env, svc.Name, err)
			if err != nil {
				continue
			}
			smp, ok := s.increase(env, svc.Name, cs)
			if !ok {
				continue
			}
			smp.At = now
			if err := s.Store.AddSLOSample(ctx, smp); err != nil {
				return err
			}
		}
	}
	if longest > 0 {
		if _, err := s.Store.PruneSLOSamples(ctx, now.Add(-longest-store.SLOBucket)); err != nil {
			return err
		}
	}
	return nil
}

// noteFailure logs a service's counters becoming unavailable (not
// deployed there, the agent down) once, not at every sample, and their
// return.
func (s *Sampler) noteFailure(env, service string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := env + "/" + service
	last, was := s.failing[key]
	switch {
	case err == nil && was:
		delete(s.failing, key)
		s.log().Info("slo: counters available again", "service", service, "environment", env)
	case err != nil && last != err.Error():
		if s.failing == nil {
			s.failing = map[string]string{}
		}
		s.failing[key] = err.Error()
		s.log().Warn("slo: counters unavailable; no samples (no data) until they return", "service", service, "environment", env, "err", err)
	}
}

// increase is the sum over versions of what each counted since the last
// reading; false on the first reading (a baseline).
func (s *Sampler) increase(env, service string, cs []target.Counters) (store.SLOSample, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.prev == nil {
		s.prev = map[string]map[string]target.Counters{}
	}
	key := env + "/" + service
	prev, seen := s.prev[key]
	smp := store.SLOSample{Environment: env, Service: service}
	now := map[string]target.Counters{}
	for _, c := range cs {
		now[c.Version] = c
		last, had := prev[c.Version]
		switch {
		case !had || c.Requests < last.Requests || c.Errors < last.Errors: // new version, or reset
			smp.Requests += c.Requests
			smp.Errors += c.Errors
		default:
			smp.Requests += c.Requests - last.Requests
			smp.Errors += c.Errors - last.Errors
		}
	}
	s.prev[key] = now
	smp.Errors = min(smp.Errors, smp.Requests)
	return smp, seen
}
