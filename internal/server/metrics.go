package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/auth"
	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Per-rollout gauges, read from the store at every scrape: only active
// rollouts have them (one at most per service and environment).
var (
	rolloutLabels   = []string{"service", "environment", "version"}
	descPhase       = prometheus.NewDesc("belay_rollout_phase", "1 for the phase each active rollout is in.", append(rolloutLabels, "phase"), nil)
	descStep        = prometheus.NewDesc("belay_rollout_step", "The active rollout's canary step, counted from 1 (the step it will start at before the canary phase).", rolloutLabels, nil)
	descSteps       = prometheus.NewDesc("belay_rollout_steps", "How many canary steps the active rollout has.", rolloutLabels, nil)
	descWeight      = prometheus.NewDesc("belay_rollout_canary_weight_percent", "Share of traffic the active rollout's phase gives the new version (a paused rollout: the phase it paused in).", rolloutLabels, nil)
	descStarted     = prometheus.NewDesc("belay_rollout_started_timestamp_seconds", "When the active rollout was created, in Unix seconds.", rolloutLabels, nil)
	analysisLabels  = []string{"service", "environment", "test"}
	descStatistic   = prometheus.NewDesc("belay_analysis_statistic", "The active rollout's latest e-value per sequential check (sequential:*, shadow:*, srm): it rejects at belay_analysis_threshold.", analysisLabels, nil)
	descThreshold   = prometheus.NewDesc("belay_analysis_threshold", "The e-value at which the check rejects: 1/alpha (srm: 1/its own level).", analysisLabels, nil)
	rolloutOutcomes = map[string]string{
		event.DeploymentPromoted: "promoted", event.DeploymentRolledBack: "rolled_back", event.DeploymentFailed: "failed",
	}
)

// metrics are the server's Prometheus metrics, in a registry of its own.
// The counters and histograms live in memory and start again at zero with
// the process; the per-rollout gauges are read from the store at scrape.
type metrics struct {
	reg       *prometheus.Registry
	http      http.Handler
	st        store.Store
	log       *slog.Logger
	verdicts  *prometheus.CounterVec
	errors    *prometheus.CounterVec
	started   *prometheus.CounterVec
	rollbacks *prometheus.CounterVec
	durations *prometheus.HistogramVec
	restores  *prometheus.HistogramVec
	leader    prometheus.Gauge

	mu     sync.Mutex
	latest map[string]analysis.Verdict // by rollout ID: the last verdict the engine received
}

func newMetrics(st store.Store, log *slog.Logger) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(), st: st, log: log, latest: map[string]analysis.Verdict{},
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "belay_analysis_verdicts_total",
			Help: "Verdicts the engine received from the analysis, by decision (one per engine tick of a judged rollout)."},
			[]string{"service", "environment", "decision"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "belay_analysis_errors_total",
			Help: "Times the analysis could not give a verdict (a judge error, not an inconclusive verdict)."},
			[]string{"service", "environment"}),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "belay_rollouts_started_total",
			Help: "Rollouts of releases started (deployment_started events)."}, []string{"service", "environment"}),
		rollbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "belay_rollbacks_total",
			Help: "Rollouts rolled back (deployment_rolled_back events)."}, []string{"service", "environment"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "belay_rollout_duration_seconds",
			Help:    "Time from a rollout's creation to its end, by outcome (promoted, rolled_back, failed).",
			Buckets: []float64{10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400}},
			[]string{"service", "environment", "outcome"}),
		restores: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "belay_rollback_duration_seconds",
			Help:    "Time from a rollout first entering RollingBack to RolledBack: how long traffic took to return.",
			Buckets: []float64{0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600}},
			[]string{"service", "environment"}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "belay_server_leader",
			Help: "1 while this server is the leader that drives the rollouts, 0 while another server on the same store is."}),
	}
	m.reg.MustRegister(m.own()...)
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.http = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn), ErrorHandling: promhttp.ContinueOnError})
	return m
}

// own are the collectors of belay's metrics, which docs/metrics.md lists.
func (m *metrics) own() []prometheus.Collector {
	return []prometheus.Collector{m.verdicts, m.errors, m.started, m.rollbacks, m.durations, m.restores, m.leader, rolloutCollector{m}}
}

// getMetrics serves the exposition. Like every route but /healthz it is
// behind authenticate; any token may read it, as every role may read.
func (s *Server) getMetrics(w http.ResponseWriter, r *http.Request) {
	if err := s.allow(r, auth.Read, ""); err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	s.metrics.http.ServeHTTP(w, r)
}

// judge counts the verdicts j gives and keeps each rollout's latest, for
// the statistic gauges. Forget, which the orchestrator looks for, is passed on.
func (m *metrics) judge(j rollout.Judge) rollout.Judge { return countingJudge{j, m} }

type countingJudge struct {
	j rollout.Judge
	m *metrics
}

var _ rollout.Judge = countingJudge{}

func (c countingJudge) Judge(ctx context.Context, st rollout.State) (analysis.Verdict, error) {
	v, err := c.j.Judge(ctx, st)
	if err != nil {
		c.m.errors.WithLabelValues(st.Service, st.Environment).Inc()
		return v, err
	}
	c.m.verdicts.WithLabelValues(st.Service, st.Environment, string(v.Decision)).Inc()
	c.m.mu.Lock()
	c.m.latest[st.ID] = v
	c.m.mu.Unlock()
	return v, nil
}

func (c countingJudge) Forget(id string) {
	c.m.mu.Lock()
	delete(c.m.latest, id)
	c.m.mu.Unlock()
	if f, ok := c.j.(interface{ Forget(id string) }); ok {
		f.Forget(id)
	}
}

// published counts rollouts started and rolled back, and observes the
// durations of those that ended. Each stored change's events are published
// once, so nothing is counted twice by one process.
func (m *metrics) published(ctx context.Context, evs []event.Event) {
	for _, e := range evs {
		switch e.Event {
		case event.DeploymentStarted:
			m.started.WithLabelValues(e.Service, e.Environment).Inc()
		case event.DeploymentRolledBack:
			m.rollbacks.WithLabelValues(e.Service, e.Environment).Inc()
		}
		outcome, ok := rolloutOutcomes[e.Event]
		if !ok {
			continue
		}
		if err := m.observeEnd(ctx, e, outcome); err != nil {
			m.log.Warn("rollout duration not observed", "rollout", e.Rollout, "err", err)
		}
	}
}

// observeEnd observes how long the rollout event e ends took, and for a
// rollback how long it took to roll back, from the times the store kept.
func (m *metrics) observeEnd(ctx context.Context, e event.Event, outcome string) error {
	id, err := rowID(e.Rollout)
	if err != nil {
		return err
	}
	ro, err := m.st.GetRollout(ctx, id)
	if err != nil {
		return err
	}
	m.durations.WithLabelValues(e.Service, e.Environment, outcome).Observe(e.Time.Sub(ro.CreatedAt).Seconds())
	if outcome != "rolled_back" {
		return nil
	}
	ts, err := m.st.Transitions(ctx, id)
	if err != nil {
		return err
	}
	began := ro.CreatedAt  // a rollback with no release in flight is created rolling back
	for _, t := range ts { // the first time: a rollback paused for a person and resumed counts whole
		if t.To == string(rollout.RollingBack) {
			began = t.At
			break
		}
	}
	m.restores.WithLabelValues(e.Service, e.Environment).Observe(e.Time.Sub(began).Seconds())
	return nil
}

// rolloutCollector reads the active rollouts at scrape time, so that its
// gauges are the store's truth, survive restarts and vanish with the rollout.
type rolloutCollector struct{ m *metrics }

func (c rolloutCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPhase, descStep, descSteps, descWeight, descStarted, descStatistic, descThreshold} {
		ch <- d
	}
}

func (c rolloutCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := c.m.st.ListRollouts(ctx, store.RolloutFilter{Active: true})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descPhase, err)
		return
	}
	active := map[string]bool{}
	for _, row := range rows {
		var st rollout.State
		if err := json.Unmarshal(row.State, &st); err != nil {
			c.m.log.Warn("metrics: rollout state unreadable", "rollout", row.ID, "err", err)
			continue
		}
		id := strconv.FormatInt(row.ID, 10)
		active[id] = true
		lv := []string{row.Service, row.Environment, row.Version}
		ch <- prometheus.MustNewConstMetric(descPhase, prometheus.GaugeValue, 1, append(lv, row.Phase)...)
		ch <- prometheus.MustNewConstMetric(descStep, prometheus.GaugeValue, float64(st.Step+1), lv...)
		ch <- prometheus.MustNewConstMetric(descSteps, prometheus.GaugeValue, float64(len(st.Steps)), lv...)
		ch <- prometheus.MustNewConstMetric(descWeight, prometheus.GaugeValue, canaryWeight(st), lv...)
		ch <- prometheus.MustNewConstMetric(descStarted, prometheus.GaugeValue, float64(row.CreatedAt.UnixNano())/1e9, lv...)
		if v, ok := c.m.verdict(id, st); ok {
			statistics(ch, v, row.Service, row.Environment)
		}
	}
	c.m.forgetExcept(active)
}

// verdict is the rollout's latest verdict: the engine's last, else (after a
// restart) the last one its state recorded.
func (m *metrics) verdict(id string, st rollout.State) (analysis.Verdict, bool) {
	m.mu.Lock()
	v, ok := m.latest[id]
	m.mu.Unlock()
	if !ok && st.LastVerdict != nil {
		return *st.LastVerdict, true
	}
	return v, ok
}

// forgetExcept drops the verdicts of rollouts no longer active, in case
// the judge's Forget was not called (a rollout ended by another server).
func (m *metrics) forgetExcept(active map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.latest {
		if !active[id] {
			delete(m.latest, id)
		}
	}
}

// statistics writes a verdict's e-values: the evidence of its sequential
// checks, the only ones whose Statistic is an e-value against Threshold.
func statistics(ch chan<- prometheus.Metric, v analysis.Verdict, service, env string) {
	for _, e := range v.Evidence {
		if !sequentialCheck(e.Check) {
			continue
		}
		ch <- prometheus.MustNewConstMetric(descStatistic, prometheus.GaugeValue, e.Statistic, service, env, e.Check)
		ch <- prometheus.MustNewConstMetric(descThreshold, prometheus.GaugeValue, e.Threshold, service, env, e.Check)
	}
}

// sequentialCheck reports whether an evidence line is an e-value check
// (see analysis's evidence): shadow:pairs and power are counts, triggers
// and health checks have no statistic.
func sequentialCheck(check string) bool {
	switch check {
	case "srm":
		return true
	case "shadow:pairs", "shadow:unserved":
		return false
	}
	return strings.HasPrefix(check, "sequential:") || strings.HasPrefix(check, "shadow:")
}

// canaryWeight is the share of traffic the rollout's phase gives the new
// version: none before the canary, the step's weight in it (none in a
// shadow or replay step), all from the watch on, none once rolling back.
func canaryWeight(st rollout.State) float64 {
	phase := st.Phase
	if phase == rollout.Paused && st.Pause != nil {
		phase = st.Pause.From
	}
	switch phase {
	case rollout.Canary:
		if st.Step >= 0 && st.Step < len(st.Steps) {
			return st.Steps[st.Step].Weight
		}
	case rollout.Watching, rollout.Promoting, rollout.Succeeded:
		return 100
	}
	return 0
}
