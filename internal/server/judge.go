package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/spec"
)

// JudgeDeps are what a Judge reads metrics, settings and time from.
type JudgeDeps struct {
	// Source gives the metric source a service's analysis settings name
	// (builtin or prometheus); see Sources.
	Source  func(a *spec.Analysis) (analysis.Source, error)
	Project func() (*spec.Project, error)
	Now     func() time.Time
	// Dir keeps each rollout step's analyzer as JSON, so that a restarted
	// server resumes the sequential test instead of starting it again
	// (which would spend α a second time). Empty keeps analyzers in memory only.
	Dir    string
	Logger *slog.Logger
}

// Judge asks the analysis for a verdict on a rollout's current canary step.
// It keeps one analyzer per rollout step, in memory and under Dir.
type Judge struct {
	d     JudgeDeps
	store stepFiles
	mu    sync.Mutex // guards steps; each step has its own lock for ticks
	steps map[string]*step
}

// step is one rollout step's analyzer; mu keeps a tick and its save together.
type step struct {
	mu       sync.Mutex
	a        *analysis.Analyzer
	last     analysis.Verdict // the last tick's verdict, at last.At
	lastSave time.Time
}

const (
	// saveEvery bounds how often a step's analyzer is written while nothing
	// is decided. Losing up to this much on a crash loses no evidence: the
	// sources' counters are cumulative, so the restarted analyzer takes the
	// lost interval's increase as one batch at its next tick.
	saveEvery = time.Second
	// promEvery is the least time between two Prometheus reads of a step:
	// its series change once per scrape (1 s at the fastest), so looking
	// more often would only load Prometheus.
	promEvery = time.Second
)

var _ rollout.Judge = (*Judge)(nil)

// NewJudge returns a judge; Source and Project are required.
func NewJudge(d JudgeDeps) *Judge {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Judge{d: d, store: stepFiles{dir: d.Dir}, steps: map[string]*step{}}
}

// Judge implements rollout.Judge.
func (j *Judge) Judge(ctx context.Context, st rollout.State) (analysis.Verdict, error) {
	now := j.d.Now()
	if st.Stable == nil {
		return analysis.Verdict{Decision: analysis.Pass, At: now,
			Reason: fmt.Sprintf("first release of %s in %s: no stable version to compare with, so it is gated by its health checks and smoke tests", st.Service, st.Environment)}, nil
	}
	if w := st.Steps[st.Step].Weight; w >= 100 {
		// Stable gets no traffic any more, so there is nothing to compare
		// with: earlier steps carried the comparison, health checks guard this one.
		return analysis.Verdict{Decision: analysis.Pass, At: now,
			Reason: fmt.Sprintf("%s takes all traffic in %s: no canary left to compare; gated by health checks and smoke tests", st.New.Version, st.Environment)}, nil
	}
	svc, err := j.service(st)
	if err != nil {
		return analysis.Verdict{}, err
	}
	src, err := j.d.Source(svc.Analysis)
	if err != nil {
		return analysis.Verdict{}, fmt.Errorf("%w: service %s: %v", rollout.ErrActionFailed, st.Service, err)
	}
	sp, err := j.stepFor(st, svc)
	if err != nil {
		return analysis.Verdict{}, err
	}
	sp.mu.Lock() // one tick of a step at a time: the analyzer and its file change together
	defer sp.mu.Unlock()
	if svc.Analysis != nil && svc.Analysis.Source == spec.SourcePrometheus &&
		sp.last.Decision == analysis.Continue && now.Sub(sp.last.At) < promEvery {
		return sp.last, nil
	}
	v := sp.a.Tick(ctx, src, st.Environment, st.Service, st.Steps[st.Step].Weight, now)
	sp.last = v
	if v.Decision == analysis.Continue && now.Sub(sp.lastSave) < saveEvery {
		return v, nil
	}
	if err := j.store.save(st.ID, st.Step, sp.a); err != nil {
		j.d.Logger.Warn("analysis state not saved; a restart would start this step's test again", "rollout", st.ID, "step", st.Step, "err", err)
	} else {
		sp.lastSave = now
	}
	return v, nil
}

// Forget drops a finished rollout's analyzers and their files (best effort).
func (j *Judge) Forget(id string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.dropOthers(id, -1)
}

func (j *Judge) service(st rollout.State) (*spec.Service, error) {
	p, err := j.d.Project()
	if err != nil {
		return nil, err
	}
	svc := p.Service(st.Service)
	if svc == nil {
		return nil, fmt.Errorf("%w: service %s is no longer in belay.yaml", rollout.ErrActionFailed, st.Service)
	}
	return svc, nil
}

// stepFor returns the step's analyzer: from memory, else from its file
// (after a restart), else a fresh one.
func (j *Judge) stepFor(st rollout.State, svc *spec.Service) (*step, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	key := stepKey(st.ID, st.Step)
	if sp, ok := j.steps[key]; ok {
		return sp, nil
	}
	a, err := j.store.load(st.ID, st.Step)
	if err != nil {
		j.d.Logger.Warn("analysis state unreadable; starting the step's test afresh", "rollout", st.ID, "step", st.Step, "err", err)
	}
	if a != nil && (a.Config.Canary != st.New.Version || a.Config.Stable != st.Stable.Version) {
		a = nil // a file from another rollout under the same ID (a reset store): not ours
	}
	if a == nil {
		cfg := config(st, svc)
		if a, err = analysis.New(cfg); err != nil {
			return nil, fmt.Errorf("%w: %v", rollout.ErrActionFailed, err)
		}
	}
	j.dropOthers(st.ID, st.Step) // a rollout has one live step: forget its earlier ones
	sp := &step{a: a}
	j.steps[key] = sp
	return sp, nil
}

// dropOthers forgets rollout id's steps other than keep (-1: all). j.mu is held.
func (j *Judge) dropOthers(id string, keep int) {
	for k := range j.steps {
		if len(k) > len(id) && k[:len(id)+1] == id+"/" && k != stepKey(id, keep) {
			delete(j.steps, k)
		}
	}
	if err := j.store.removeOthers(id, keep); err != nil {
		j.d.Logger.Warn("old analysis state not removed", "rollout", id, "err", err)
	}
}

func stepKey(id string, step int) string { return fmt.Sprintf("%s/%d", id, step) }

// config maps the service's triggers and analysis settings onto one step.
func config(st rollout.State, svc *spec.Service) analysis.Config {
	cfg := analysis.Config{Canary: st.New.Version, Stable: st.Stable.Version, MinDuration: st.Steps[st.Step].MinDuration}
	if a := svc.Analysis; a != nil {
		cfg.Alpha, cfg.MinRequests = a.Alpha, int64(a.MinRequests)
		if a.MinEffect > 1 {
			cfg.MinEffect = a.MinEffect
		}
		if a.Test == spec.TestBeta {
			cfg.Test = analysis.TestBeta
		}
		// Each cause's policy, else the service's inconclusive policy, so
		// that the verdict carries the policy the engine applies.
		for _, p := range []struct {
			dst *analysis.Policy
			v   spec.InconclusivePolicy
		}{{&cfg.OnUnavailable, a.OnUnavailable}, {&cfg.OnLowTraffic, a.OnLowTraffic}, {&cfg.OnSRM, a.OnSRM}} {
			if p.v == "" {
				p.v = a.Inconclusive
			}
			*p.dst = analysis.Policy(p.v)
		}
		if a.Source == spec.SourcePrometheus && a.Prometheus != nil {
			cfg.Timeout = a.Prometheus.Timeout.D()
		}
	}
	noData := analysis.NoDataHold
	if a := svc.Analysis; a != nil && a.NoData != "" {
		noData = analysis.NoDataPolicy(a.NoData)
	}
	for _, t := range svc.RollbackTrigger {
		cfg.Triggers = append(cfg.Triggers, analysis.TriggerConfig{Trigger: t, NoData: noData})
	}
	return cfg
}
