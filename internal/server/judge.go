package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/spec"
)

// Judge asks the analysis for a verdict on a rollout's current canary step.
// It keeps one analyzer per rollout step in memory: after a restart a step's
// analysis starts afresh, which the anytime-valid test allows (it only
// delays a verdict, never makes a false one more likely).
type Judge struct {
	src     analysis.Source
	project func() (*spec.Project, error)
	now     func() time.Time
	mu      sync.Mutex
	steps   map[string]*analysis.Analyzer
}

var _ rollout.Judge = (*Judge)(nil)

// NewJudge returns a judge reading metrics from src and settings from project.
func NewJudge(src analysis.Source, project func() (*spec.Project, error), now func() time.Time) *Judge {
	return &Judge{src: src, project: project, now: now, steps: map[string]*analysis.Analyzer{}}
}

// Judge implements rollout.Judge.
func (j *Judge) Judge(ctx context.Context, st rollout.State) (analysis.Verdict, error) {
	now := j.now()
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
	a, err := j.analyzer(st)
	if err != nil {
		return analysis.Verdict{}, err
	}
	return a.Tick(ctx, j.src, st.Environment, st.Service, st.Steps[st.Step].Weight, now), nil
}

func (j *Judge) analyzer(st rollout.State) (*analysis.Analyzer, error) {
	key := fmt.Sprintf("%s/%d", st.ID, st.Step)
	j.mu.Lock()
	defer j.mu.Unlock()
	if a, ok := j.steps[key]; ok {
		return a, nil
	}
	cfg, err := j.config(st)
	if err != nil {
		return nil, err
	}
	a, err := analysis.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", rollout.ErrActionFailed, err)
	}
	for k := range j.steps { // a rollout has one live step: forget its earlier ones
		if len(k) > len(st.ID) && k[:len(st.ID)+1] == st.ID+"/" {
			delete(j.steps, k)
		}
	}
	j.steps[key] = a
	return a, nil
}

// config maps the service's triggers and analysis settings onto one step.
func (j *Judge) config(st rollout.State) (analysis.Config, error) {
	p, err := j.project()
	if err != nil {
		return analysis.Config{}, err
	}
	svc := p.Service(st.Service)
	if svc == nil {
		return analysis.Config{}, fmt.Errorf("%w: service %s is no longer in belay.yaml", rollout.ErrActionFailed, st.Service)
	}
	cfg := analysis.Config{Canary: st.New.Version, Stable: st.Stable.Version, MinDuration: st.Steps[st.Step].MinDuration}
	if a := svc.Analysis; a != nil {
		cfg.Alpha, cfg.MinRequests = a.Alpha, int64(a.MinRequests)
		if a.MinEffect > 1 {
			cfg.MinEffect = a.MinEffect
		}
	}
	noData := analysis.NoDataHold
	if a := svc.Analysis; a != nil && a.NoData != "" {
		noData = analysis.NoDataPolicy(a.NoData)
	}
	for _, t := range svc.RollbackTrigger {
		cfg.Triggers = append(cfg.Triggers, analysis.TriggerConfig{Trigger: t, NoData: noData})
	}
	return cfg, nil
}
