package server

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/metricsdoc"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/rollout/rollouttest"
	"github.com/belay-dev/belay/internal/store/open"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metricsYAML is one service with a two-step canary and no watch.
const metricsYAML = `project: shop
services:
  api:
    build: {command: "true", outputs: [bin/api]}
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout:
      strategy: canary
      steps:
        - {weight: 25%, min_duration: 10s}
        - {weight: 100%, min_duration: 10s}
    rollback_trigger: ["error_rate > 1% for 30s"]
    rollback_action: deploy previous_stable
environments:
  - name: production
    listen: 127.0.0.1:18082
`

// knownArtifacts verifies every version it names (digest sha256:<version>).
type knownArtifacts map[string]bool

func (a knownArtifacts) Verify(_ context.Context, v string) (string, error) {
	if !a[v] {
		return "", fmt.Errorf("artifact %s not found", v)
	}
	return "sha256:" + v, nil
}
func (a knownArtifacts) Open(context.Context, string) (string, error)   { return os.TempDir(), nil }
func (a knownArtifacts) Refs(context.Context, string) ([]string, error) { return nil, nil }

// metricsRig is a server over a real SQLite store and an in-memory target,
// judged by a scripted decision, on a clock the test moves by 5 s a tick.
type metricsRig struct {
	t     *testing.T
	srv   *Server
	url   string
	admin string

	mu       sync.Mutex
	now      time.Time
	decision analysis.Decision
}

func newMetricsRig(t *testing.T) *metricsRig {
	t.Helper()
	dir := t.TempDir()
	project := filepath.Join(dir, "belay.yaml")
	if err := os.WriteFile(project, []byte(metricsYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := open.Open(context.Background(), "", filepath.Join(dir, ".belay"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := &metricsRig{t: t, now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), decision: analysis.Pass}
	// A verdict carries a sequential check's e-value, and a trigger's
	// evidence, which has no statistic and must not become one.
	judge := rollout.JudgeFunc(func(context.Context, rollout.State) (analysis.Verdict, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		return analysis.Verdict{Decision: r.decision, Reason: "scripted", At: r.now, Evidence: []analysis.Evidence{
			{Check: "error_rate > 1% for 30s", State: "ok", Canary: 0.002, Threshold: 0.01},
			{Check: "sequential:errors", State: "ok", Threshold: 100, Statistic: 3.5},
			{Check: "power", State: "pending", Canary: 40, Threshold: 300},
		}}, nil
	})
	r.srv, err = New(Deps{Store: st, Target: rollouttest.NewTarget(), Artifacts: knownArtifacts{"api-v1": true, "api-v2": true},
		ProjectFile: project, AuditKey: testAuditKey(t), Judge: judge, Now: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	hs, admin := authedServer(t, r.srv)
	r.url, r.admin = hs.URL, admin
	return r
}

func (r *metricsRig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *metricsRig) judge(d analysis.Decision) {
	r.mu.Lock()
	r.decision = d
	r.mu.Unlock()
}

// until ticks the engine, 5 s apart, until the release's rollout is in phase.
func (r *metricsRig) until(release int64, phase rollout.Phase) {
	r.t.Helper()
	for range 100 {
		v, err := r.srv.orch.ReleaseView(context.Background(), release)
		if err != nil {
			r.t.Fatal(err)
		}
		if len(v.Rollouts) > 0 && v.Rollouts[len(v.Rollouts)-1].Phase == string(phase) {
			return
		}
		r.mu.Lock()
		r.now = r.now.Add(5 * time.Second)
		r.mu.Unlock()
		if err := r.srv.orch.Tick(context.Background()); err != nil {
			r.t.Fatal(err)
		}
	}
	r.t.Fatalf("release %d: no rollout reached %s", release, phase)
}

func (r *metricsRig) release(version string) int64 {
	r.t.Helper()
	ans, err := r.srv.orch.Release(context.Background(), api.ReleaseRequest{Service: "api", Version: version, Owner: "ann"})
	if err != nil {
		r.t.Fatal(err)
	}
	return ans.Release
}

// scrape GETs /metrics with token ("" for none) and parses the exposition.
func scrape(t *testing.T, url, token string) (int, map[string]*dto.MetricFamily) {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/metrics", nil)
	if token == "" {
		req.Header.Set("X-Test-Anonymous", "1")
	} else {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return resp.StatusCode, nil
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, fams
}

// sample finds the metric of family name whose labels include want.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.Metric {
		for k, v := range want {
			found := false
			for _, l := range m.Label {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		return m
	}
	return nil
}

// value is a gauge's or counter's value, NaN when there is no such series.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	m := sample(fams, name, want)
	switch {
	case m == nil:
		return math.NaN()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	}
	return math.NaN()
}

// TestMetricsFollowARollout: a canary's phase, step, weight and latest
// e-value are gauges while it runs; verdicts are counted by decision; once
// it ends its gauges are gone and its duration, and its rollback's, are
// observed from the store's times.
func TestMetricsFollowARollout(t *testing.T) {
	r := newMetricsRig(t)
	prod := map[string]string{"service": "api", "environment": "production"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{"service": "api", "environment": "production"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}

	// v1, the first release, is promoted: its duration runs from the
	// release (the rollout's creation) to the tick that promoted it.
	created := r.clock()
	v1 := r.release("api-v1")
	r.until(v1, rollout.Succeeded)
	promoted := r.clock().Sub(created).Seconds()
	_, fams := scrape(t, r.url, r.admin)
	if m := sample(fams, "belay_rollout_duration_seconds", with("outcome", "promoted")); m == nil || m.Histogram.GetSampleCount() != 1 || m.Histogram.GetSampleSum() != promoted {
		t.Fatalf("promoted duration: %v, want one of %gs", m, promoted)
	}
	if got := value(fams, "belay_rollout_phase", prod); !math.IsNaN(got) {
		t.Errorf("a finished rollout still has a phase gauge: %v", got)
	}
	passes := value(fams, "belay_analysis_verdicts_total", with("decision", "pass"))
	if passes < 2 { // one per step at least
		t.Errorf("pass verdicts: %v", passes)
	}

	// v2 holds at its first step.
	r.judge(analysis.Continue)
	created = r.clock()
	v2 := r.release("api-v2")
	r.until(v2, rollout.Canary)
	_, fams = scrape(t, r.url, r.admin)
	continues := value(fams, "belay_analysis_verdicts_total", with("decision", "continue"))
	if math.IsNaN(continues) {
		continues = 0
	}
	for range 3 { // each tick judges the step once
		r.mu.Lock()
		r.now = r.now.Add(5 * time.Second)
		r.mu.Unlock()
		if err := r.srv.orch.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	viewer := newViewer(t, r)
	code, fams := scrape(t, r.url, viewer)
	if code != 200 {
		t.Fatalf("a viewer's scrape: %d", code)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"belay_rollout_phase", with("version", "api-v2", "phase", "Canary"), 1},
		{"belay_rollout_step", with("version", "api-v2"), 1},
		{"belay_rollout_steps", with("version", "api-v2"), 2},
		{"belay_rollout_canary_weight_percent", with("version", "api-v2"), 25},
		{"belay_analysis_statistic", with("test", "sequential:errors"), 3.5},
		{"belay_analysis_threshold", with("test", "sequential:errors"), 100},
		{"belay_analysis_verdicts_total", with("decision", "continue"), continues + 3},
		{"belay_analysis_verdicts_total", with("decision", "pass"), passes},
		{"belay_rollouts_started_total", prod, 2},
	} {
		if got := value(fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := value(fams, "belay_rollout_phase", with("version", "api-v1")); !math.IsNaN(got) {
		t.Errorf("v1's finished rollout still has a phase: %v", got)
	}
	for _, test := range []string{"error_rate > 1% for 30s", "power"} {
		if sample(fams, "belay_analysis_statistic", with("test", test)) != nil {
			t.Errorf("%q has no e-value, yet has a statistic", test)
		}
	}

	// A failing verdict rolls v2 back.
	r.judge(analysis.Fail)
	r.until(v2, rollout.RolledBack)
	_, fams = scrape(t, r.url, r.admin)
	rolledBack := sample(fams, "belay_rollout_duration_seconds", with("outcome", "rolled_back"))
	if want := r.clock().Sub(created).Seconds(); rolledBack == nil || rolledBack.Histogram.GetSampleCount() != 1 || rolledBack.Histogram.GetSampleSum() != want {
		t.Fatalf("rolled back duration: %v, want one of %gs", rolledBack, want)
	}
	if m := sample(fams, "belay_rollout_duration_seconds", with("outcome", "promoted")); m.Histogram.GetSampleCount() != 1 || m.Histogram.GetSampleSum() != promoted {
		t.Errorf("promoted duration changed: %v", m)
	}
	if m := sample(fams, "belay_rollback_duration_seconds", prod); m == nil || m.Histogram.GetSampleCount() != 1 || m.Histogram.GetSampleSum() > rolledBack.Histogram.GetSampleSum() {
		t.Errorf("rollback duration: %v", m)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"belay_analysis_verdicts_total", with("decision", "fail"), 1},
		{"belay_rollbacks_total", prod, 1},
	} {
		if got := value(fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, name := range []string{"belay_rollout_phase", "belay_rollout_step", "belay_rollout_canary_weight_percent", "belay_analysis_statistic"} {
		if f := fams[name]; f != nil && len(f.Metric) > 0 {
			t.Errorf("%s outlives its rollout: %v", name, f.Metric)
		}
	}
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		if fams[name] == nil && (name == "go_goroutines" || processMetricsSupported()) {
			t.Errorf("%s missing: the Go and process collectors are registered", name)
		}
	}
}

// processMetricsSupported: the process collector reads /proc on Linux only.
func processMetricsSupported() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

func newViewer(t *testing.T, r *metricsRig) string {
	t.Helper()
	rig := &authRig{t: t, url: r.url, admin: r.admin}
	return rig.token("prometheus", "viewer")
}

// /metrics is behind the API's authentication like every route but
// /healthz: no token, or one not the server's, is 401.
func TestMetricsNeedAToken(t *testing.T) {
	r := newMetricsRig(t)
	if code, _ := scrape(t, r.url, ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", code)
	}
	if code, _ := scrape(t, r.url, "belay_"+strings.Repeat("a", len(r.admin)-len("belay_"))); code != http.StatusUnauthorized {
		t.Errorf("unknown token: %d, want 401", code)
	}
	if code, _ := scrape(t, r.url, newViewer(t, r)); code != 200 {
		t.Errorf("viewer: %d, want 200", code)
	}
}

// TestMetricsDocumented: docs/metrics.md's server table lists every metric
// the server registers, with its labels, and nothing else.
func TestMetricsDocumented(t *testing.T) {
	problems, err := metricsdoc.Check("../../docs/metrics.md", "Server", func(ch chan<- *prometheus.Desc) {
		for _, c := range newMetrics(nil, slog.New(slog.DiscardHandler)).own() {
			c.Describe(ch)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}
