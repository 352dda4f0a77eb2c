package prometheus_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/belay-dev/belay/internal/analysis"
	belayprom "github.com/belay-dev/belay/internal/analysis/prometheus"
	"github.com/belay-dev/belay/internal/target"
	"github.com/belay-dev/belay/internal/testenv"
)

// agent exposes the metric names the default templates assume, as the belay
// agent does, with client_golang.
type agent struct {
	reqs     *prometheus.CounterVec
	errs     *prometheus.CounterVec
	dur      *prometheus.HistogramVec
	health   *prometheus.CounterVec
	restarts *prometheus.CounterVec
	srv      *httptest.Server
	reg      *prometheus.Registry
}

func newAgent(t *testing.T) *agent {
	reg := prometheus.NewRegistry()
	labels := []string{"service", "version", "environment"}
	a := &agent{
		reqs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "belay_requests_total", Help: "requests"}, append(labels, "code_class")),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "belay_request_errors_total", Help: "5xx and proxy errors"}, labels),
		dur: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "belay_request_duration_seconds", Help: "latency",
			Buckets: []float64{0.05, 0.1, 0.25}}, labels),
		health:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "belay_health_check_failures_total", Help: "failed checks"}, labels),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "belay_instance_restarts_total", Help: "restarts"}, labels),
	}
	a.reg = reg
	reg.MustRegister(a.reqs, a.errs, a.dur, a.health, a.restarts)
	a.srv = httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *agent) serve(version, code string, n int, seconds float64) {
	for range n {
		a.reqs.WithLabelValues("api", version, "production", code).Inc()
		if code == "5xx" || code == "proxy_error" {
			a.errs.WithLabelValues("api", version, "production").Inc()
		}
		a.dur.WithLabelValues("api", version, "production").Observe(seconds)
	}
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startPrometheus runs the real server scraping target every second and
// returns its URL and a stop function.
func startPrometheus(t *testing.T, scrape string) (string, func()) {
	bin := testenv.PrometheusBin(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: agent\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['%s']\n", scrape)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = os.Stderr, nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }) }
	t.Cleanup(stop)
	return "http://" + addr, stop
}

// waitFor polls the source until cond holds, up to 20 s (Prometheus shows
// its first samples 5–6 s after start).
func waitFor(t *testing.T, src *belayprom.Source, q analysis.Query, cond func([]target.Counters) bool) []target.Counters {
	deadline := time.Now().Add(20 * time.Second)
	for {
		cs, err := src.Counters(context.Background(), q)
		if err == nil && cond(cs) {
			return cs
		}
		if time.Now().After(deadline) {
			t.Fatalf("no data from Prometheus within 20 s: %+v, %v", cs, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

var q = analysis.Query{Environment: "production", Service: "api", Versions: []string{"v2", "v1"}}

func TestReadsAgentMetricsFromRealPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real Prometheus")
	}
	ag := newAgent(t)
	ag.serve("v1", "2xx", 990, 0.03)
	ag.serve("v1", "5xx", 10, 0.2)
	ag.serve("v2", "2xx", 45, 0.07)
	ag.serve("v2", "5xx", 5, 0.5)
	ag.serve("v2", "proxy_error", 1, 0.5)
	ag.health.WithLabelValues("api", "v2", "production").Add(2)
	ag.restarts.WithLabelValues("api", "v2", "production").Add(1)
	ag.serve("v3", "2xx", 7, 0.01) // not asked for
	url, _ := startPrometheus(t, strings.TrimPrefix(ag.srv.URL, "http://"))
	src, err := belayprom.New(url, belayprom.Templates{}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cs := waitFor(t, src, q, func(cs []target.Counters) bool { return len(cs) == 2 })
	v2, v1 := cs[0], cs[1]
	if v1.Version != "v1" || v1.Requests != 1000 || v1.Errors != 10 || v2.Requests != 51 || v2.Errors != 6 || v2.HealthFailures != 2 || v2.Restarts != 1 {
		t.Fatalf("counters %+v", cs)
	}
	want := []int64{990, 0, 10, 0}
	if fmt.Sprint(v1.LatencyBounds) != "[0.05 0.1 0.25]" || fmt.Sprint(v1.LatencyCounts) != fmt.Sprint(want) {
		t.Errorf("v1 histogram %v %v, want [0.05 0.1 0.25] %v", v1.LatencyBounds, v1.LatencyCounts, want)
	}
	if fmt.Sprint(v2.LatencyCounts) != "[0 45 0 6]" {
		t.Errorf("v2 histogram %v", v2.LatencyCounts)
	}
	// A version Prometheus has never seen is absent, not zero.
	cs, err = src.Counters(context.Background(), analysis.Query{Environment: "production", Service: "api", Versions: []string{"v9"}})
	if err != nil || len(cs) != 0 {
		t.Errorf("unknown version: %+v, %v", cs, err)
	}
}

// A rollout whose Prometheus dies: verdicts turn "inconclusive: metrics
// unavailable" with the policy, and never pass.
func TestPrometheusStoppedMidRunNeverPromotes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real Prometheus")
	}
	ag := newAgent(t)
	ag.serve("v1", "2xx", 2000, 0.03)
	url, stop := startPrometheus(t, strings.TrimPrefix(ag.srv.URL, "http://"))
	src, err := belayprom.New(url, belayprom.Templates{}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, src, q, func(cs []target.Counters) bool { return len(cs) >= 1 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // 100 canary req/s at weight 5 %
		for tk := time.NewTicker(100 * time.Millisecond); ctx.Err() == nil; <-tk.C {
			ag.serve("v1", "2xx", 190, 0.03)
			ag.serve("v2", "2xx", 10, 0.03)
		}
	}()
	a, err := analysis.New(analysis.Config{Canary: "v2", Stable: "v1", MinDuration: 3 * time.Second, OnUnavailable: analysis.PolicyRollback,
		UnavailableGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var v analysis.Verdict
	for i := 0; i < 40 && v.Decision != analysis.Pass; i++ {
		v = a.Tick(ctx, src, "production", "api", 5, time.Now())
		if v.Decision == analysis.Fail || v.Decision == analysis.Inconclusive {
			t.Fatalf("healthy canary with Prometheus up: %s %q", v.Decision, v.Reason)
		}
		time.Sleep(time.Second)
	}
	if v.Decision != analysis.Pass {
		t.Fatalf("with Prometheus up the healthy canary should pass; last %s %q", v.Decision, v.Reason)
	}
	stop()
	// Within the 1 s grace the step holds; after it, the policy applies. Never a pass.
	var first time.Time
	for range 12 {
		now := time.Now()
		v = a.Tick(ctx, src, "production", "api", 5, now)
		if first.IsZero() {
			first = now
		}
		want := analysis.Inconclusive
		if now.Sub(first) < time.Second {
			want = analysis.Continue
		}
		if v.Decision != want || !strings.Contains(v.Reason, "metrics unavailable") ||
			want == analysis.Inconclusive && v.Policy != analysis.PolicyRollback {
			t.Fatalf("Prometheus stopped %s ago: %s %s %q, want %s", now.Sub(first).Round(time.Millisecond), v.Decision, v.Policy, v.Reason, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// A Prometheus that answers too slowly is unavailable, not waited for.
func TestSlowPrometheusIsUnavailable(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	src, err := belayprom.New(slow.URL, belayprom.Templates{}, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = src.Counters(context.Background(), q)
	if !errors.Is(err, analysis.ErrNoData) || !strings.Contains(err.Error(), "no answer within 200ms") {
		t.Errorf("slow Prometheus: %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %v; the timeout is 200ms", el)
	}
}
