package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/slo"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
)

// JudgeDeps are what a Judge reads metrics, settings and time from.
type JudgeDeps struct {
	// Source gives the metric source a service's analysis settings name
	// (builtin or prometheus); see Sources.
	Source  func(a *spec.Analysis) (analysis.Source, error)
	Project func() (*spec.Project, error)
	Now     func() time.Time
	// States keeps each rollout step's analyzer, so that a restarted server,
	// on this host or another, resumes the sequential test instead of
	// starting it again (which would spend α a second time). The store
	// satisfies it; nil keeps analyzers in memory only.
	States store.Analyses
	// Samples, when set, receives each rollout version's requests, errors
	// and p95 latency about once a second, for the dashboard's charts.
	Samples store.Samples
	Logger  *slog.Logger
	// SLO gives the reader of a service's SLO windows (see SLOReaders);
	// nil leaves SLOs out of verdicts.
	SLO func(a *spec.Analysis) (slo.Reader, error)
}

// Judge asks the analysis for a verdict on a rollout's current step, or on
// its watch. It keeps one analyzer per rollout step, in memory and in States.
type Judge struct {
	d     JudgeDeps
	mu    sync.Mutex // guards steps; each step has its own lock for ticks
	steps map[string]*step
}

// step is one rollout step's analyzer; mu keeps a tick and its save together.
type step struct {
	mu       sync.Mutex
	a        *analysis.Analyzer
	last     analysis.Verdict // the last tick's verdict, at last.At
	lastSave time.Time
	sampled  sampled // what the last recorded samples counted
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
	// forgetTimeout bounds Forget's delete, which has no caller's context.
	forgetTimeout = 5 * time.Second
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
	return &Judge{d: d, steps: map[string]*step{}}
}

// Judge implements rollout.Judge. The triggers judge every step and the
// watch; the comparison with stable only where there is one taking traffic
// (see analysis.Config.Compares).
func (j *Judge) Judge(ctx context.Context, st rollout.State) (analysis.Verdict, error) {
	now := j.d.Now()
	at, err := stepOf(st)
	if err != nil {
		return analysis.Verdict{}, err
	}
	svc, err := j.service(st)
	if err != nil {
		return analysis.Verdict{}, err
	}
	// Mirrored pairs are counted by the target itself (the agent's
	// proxy), whatever source judges users' traffic.
	srcOf := svc.Analysis
	if at.paired {
		srcOf = nil
	}
	src, err := j.d.Source(srcOf)
	if err != nil {
		return analysis.Verdict{}, fmt.Errorf("%w: service %s: %v", rollout.ErrActionFailed, st.Service, err)
	}
	cfg, err := config(st, svc, at)
	if err != nil {
		return analysis.Verdict{}, err
	}
	if src, err = withNamed(j.d.Source, src, svc, cfg); err != nil {
		return analysis.Verdict{}, fmt.Errorf("%w: service %s: %v", rollout.ErrActionFailed, st.Service, err)
	}
	sp, err := j.stepFor(ctx, st.ID, at, cfg)
	if err != nil {
		return analysis.Verdict{}, err
	}
	sp.mu.Lock() // one tick of a step at a time: the analyzer and its stored state change together
	defer sp.mu.Unlock()
	if (svc.Analysis != nil && svc.Analysis.Source == spec.SourcePrometheus || readsNamed(cfg)) &&
		sp.last.Decision == analysis.Continue && now.Sub(sp.last.At) < promEvery {
		return sp.last, nil
	}
	v := sp.a.Tick(ctx, src, st.Environment, st.Service, at.weight, now)
	v = j.sloCheck(ctx, st, svc, v)
	sp.last = v
	j.sample(ctx, st.ID, sp, now)
	if v.Decision == analysis.Continue && now.Sub(sp.lastSave) < saveEvery {
		return v, nil
	}
	if err := j.save(ctx, st.ID, at.index, sp.a, now); err != nil {
		j.d.Logger.Warn("analysis state not saved; a restart would start this step's test again", "rollout", st.ID, "step", at.index, "err", err)
	} else {
		sp.lastSave = now
	}
	return v, nil
}

// Forget drops a finished rollout's analyzers and their stored states (best effort).
func (j *Judge) Forget(id string) {
	j.mu.Lock()
	j.dropOthers(id, -1)
	j.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), forgetTimeout)
	defer cancel()
	j.deleteOthers(ctx, id, -1)
}

// judged names the analyzer a rollout state is judged by: its step's index
// and weight, or, in Watching, an index past the last step (so that the
// watch's trigger windows start afresh) at all traffic.
type judged struct {
	index  int
	weight float64
	watch  bool
	paired bool // a shadow or replay step
}

func stepOf(st rollout.State) (judged, error) {
	if st.Step < 0 || st.Step >= len(st.Steps) {
		return judged{}, fmt.Errorf("%w: rollout %s: step %d of %d", rollout.ErrActionFailed, st.ID, st.Step+1, len(st.Steps))
	}
	if st.Phase == rollout.Watching {
		return judged{index: len(st.Steps), weight: 100, watch: true}, nil
	}
	step := st.Steps[st.Step]
	return judged{index: st.Step, weight: step.Weight, paired: step.Paired() && st.Stable != nil}, nil
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

// stepFor returns the step's analyzer: from memory, else from States
// (after a restart), else a fresh one. A rollout has one live step, so
// its other steps are forgotten.
func (j *Judge) stepFor(ctx context.Context, id string, at judged, cfg analysis.Config) (*step, error) {
	key := stepKey(id, at.index)
	j.mu.Lock()
	sp, ok := j.steps[key]
	j.mu.Unlock()
	if ok {
		return sp, nil
	}
	a, err := j.load(ctx, id, at.index)
	if err != nil {
		j.d.Logger.Warn("analysis state unreadable; starting the step's test afresh", "rollout", id, "step", at.index, "err", err)
	}
	if a != nil && (a.Config.Canary != cfg.Canary || a.Config.Stable != cfg.Stable) {
		a = nil // a state from another rollout under the same ID (a reset store): not ours
	}
	if a == nil {
		if a, err = analysis.New(cfg); err != nil {
			return nil, fmt.Errorf("%w: %v", rollout.ErrActionFailed, err)
		}
	}
	j.mu.Lock()
	if sp, ok = j.steps[key]; !ok { // a concurrent tick may have got here first
		sp = &step{a: a}
		j.steps[key] = sp
	}
	j.dropOthers(id, at.index)
	j.mu.Unlock()
	j.deleteOthers(ctx, id, at.index)
	return sp, nil
}

// dropOthers forgets rollout id's steps other than keep (-1: all). j.mu is held.
func (j *Judge) dropOthers(id string, keep int) {
	for k := range j.steps {
		if len(k) > len(id) && k[:len(id)+1] == id+"/" && k != stepKey(id, keep) {
			delete(j.steps, k)
		}
	}
}

func stepKey(id string, step int) string { return fmt.Sprintf("%s/%d", id, step) }

// rowID is a rollout ID as the store keys it: the decimal of its row ID.
func rowID(id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("rollout id %q is not a store row id: %w", id, err)
	}
	return n, nil
}

// load returns the stored analyzer of a step, or nil when there is none.
func (j *Judge) load(ctx context.Context, id string, index int) (*analysis.Analyzer, error) {
	if j.d.States == nil {
		return nil, nil
	}
	n, err := rowID(id)
	if err != nil {
		return nil, err
	}
	b, err := j.d.States.LoadAnalysis(ctx, n, index)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var a analysis.Analyzer
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("rollout %s step %d: %w", id, index, err)
	}
	return &a, nil
}

func (j *Judge) save(ctx context.Context, id string, index int, a *analysis.Analyzer, now time.Time) error {
	if j.d.States == nil {
		return nil
	}
	n, err := rowID(id)
	if err != nil {
		return err
	}
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return j.d.States.SaveAnalysis(ctx, n, index, b, now)
}

// deleteOthers removes rollout id's stored states except step keep (-1: all).
func (j *Judge) deleteOthers(ctx context.Context, id string, keep int) {
	if j.d.States == nil {
		return
	}
	n, err := rowID(id)
	if err == nil {
		err = j.d.States.DeleteAnalyses(ctx, n, keep)
	}
	if err != nil {
		j.d.Logger.Warn("old analysis state not removed", "rollout", id, "err", err)
	}
}

// tests maps belay.yaml's analysis.test onto the analysis's tests.
var tests = map[spec.SequentialTest]analysis.Test{
	"": analysis.TestMixtureSPRT, spec.TestMSPRT: analysis.TestMixtureSPRT, spec.TestBeta: analysis.TestBeta, spec.TestNone: analysis.TestNone,
}

// config maps the service's triggers and analysis settings onto one step
// of a rollout, or its watch.
func config(st rollout.State, svc *spec.Service, at judged) (analysis.Config, error) {
	cfg := analysis.Config{Canary: st.New.Version, Watch: at.watch, Shadow: at.paired}
	if st.Stable != nil {
		cfg.Stable = st.Stable.Version
	}
	if !at.watch { // the watch has no minimum: the engine ends it by time
		cfg.MinDuration = st.Steps[at.index].MinDuration
	}
	noData := analysis.NoDataHold
	if a := svc.Analysis; a != nil {
		test, ok := tests[a.Test]
		if !ok {
			return cfg, fmt.Errorf("%w: service %s: analysis.test %q is unknown: use msprt, beta or none", rollout.ErrActionFailed, st.Service, a.Test)
		}
		cfg.Test, cfg.Alpha, cfg.MinCanaryRequests = test, a.Alpha, int64(a.MinRequests)
		if a.MinEffect > 1 {
			cfg.MinEffect = a.MinEffect
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
			pol, err := analysis.PolicyOf(p.v)
			if err != nil {
				return cfg, fmt.Errorf("%w: service %s: %v", rollout.ErrActionFailed, st.Service, err)
			}
			*p.dst = pol
		}
		if a.Source == spec.SourcePrometheus && a.Prometheus != nil {
			cfg.Timeout = a.Prometheus.Timeout.D()
		}
		if a.NoData != "" {
			noData = analysis.NoDataPolicy(a.NoData)
		}
	}
	cfg.Compared = compared(svc)
	for _, t := range svc.RollbackTrigger {
		cfg.Triggers = append(cfg.Triggers, analysis.TriggerConfig{Trigger: t, NoData: noData, Named: namedMetric(svc, t.Metric)})
	}
	return cfg, nil
}
