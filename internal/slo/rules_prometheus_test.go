package slo_test

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"

	"github.com/belay-dev/belay/internal/slo"
	"github.com/belay-dev/belay/internal/testenv"
)

// exporter serves the agent's two counters (names and labels of
// internal/agent/metrics.go) with values the test drives.
type exporter struct {
	reqs, errs *prometheus.CounterVec
	srv        *httptest.Server
}

func newExporter(t *testing.T) *exporter {
	reg := prometheus.NewRegistry()
	labels := []string{"service", "version", "environment"}
	e := &exporter{
		reqs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: slo.RequestsMetric, Help: "requests"}, append(labels, "code_class")),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: slo.ErrorsMetric, Help: "5xx and proxy errors"}, labels),
	}
	reg.MustRegister(e.reqs, e.errs)
	e.srv = httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *exporter) serve(env, version string, ok, bad int) {
	e.reqs.WithLabelValues("api", version, env, "2xx").Add(float64(ok))
	e.reqs.WithLabelValues("api", version, env, "5xx").Add(float64(bad))
	e.errs.WithLabelValues("api", version, env).Add(float64(bad))
}

// startPrometheus runs the real server with the rules, scraping the
// exporter every 100 ms and evaluating rules every 200 ms.
func startPrometheus(t *testing.T, target string, rules []byte) (string, v1.API) {
	bin := testenv.PrometheusBin(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "slo.rules.yml"), rules, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("global:\n  scrape_interval: 100ms\n  evaluation_interval: 200ms\nrule_files: [slo.rules.yml]\n"+
		"scrape_configs:\n  - job_name: agent\n    static_configs:\n      - targets: ['%s']\n", target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr)
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("prometheus log:\n%s", b)
		}
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	c, err := api.NewClient(api.Config{Address: "http://" + addr})
	if err != nil {
		t.Fatal(err)
	}
	return "http://" + addr, v1.NewAPI(c)
}

func query(t *testing.T, p v1.API, q string, at time.Time) model.Vector {
	t.Helper()
	v, _, _, err := p.Query(context.Background(), q, at)
	if err != nil {
		return nil
	}
	return v.(model.Vector)
}

// poll retries f until it is true, for up to 30 s (a fresh Prometheus
// shows its first samples 5–6 s after start).
func poll(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !f(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30 s", what)
		}
	}
}

// TestRulesInRealPrometheus loads belay slo rules' output into a real
// Prometheus scraping counters the test drives, and checks that every
// recorded burn rate equals the one internal/slo computes from the same
// Prometheus (the prometheus source), and that the page alert fires for
// the burning environment only.
func TestRulesInRealPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real Prometheus")
	}
	obj := slo.Objective{Objective: 0.99, Window: 30 * 24 * time.Hour}
	rules, err := slo.Rules([]slo.Service{{Name: "api", Objective: obj}}, slo.Pairs)
	if err != nil {
		t.Fatal(err)
	}
	ex := newExporter(t)
	for _, env := range []string{"staging", "production"} { // every series starts at 0
		for _, v := range []string{"v1", "v2"} {
			ex.serve(env, v, 0, 0)
		}
	}
	url, prom := startPrometheus(t, strings.TrimPrefix(ex.srv.URL, "http://"), rules)
	poll(t, "first scrape", func() bool { return len(query(t, prom, slo.RequestsMetric, time.Now())) == 8 })
	// production fails 60 % of its answers (burn rate 60 against 1 %);
	// staging 0.5 % (burn rate 0.5)
	for range 5 {
		ex.serve("production", "v1", 300, 200)
		ex.serve("production", "v2", 100, 400)
		ex.serve("staging", "v1", 1990, 10)
		ex.serve("staging", "v2", 995, 5)
		time.Sleep(150 * time.Millisecond)
	}
	// the counters are still now; wait until the rules have seen their last values
	last := ""
	poll(t, "recorded rates to settle", func() bool {
		v := query(t, prom, slo.BurnRateRule(time.Hour), time.Now())
		var vals []string
		for _, smp := range v {
			vals = append(vals, smp.Metric.String()+"="+smp.Value.String())
		}
		s := strings.Join(vals, " ")
		settled := len(v) == 2 && s == last
		last = s
		time.Sleep(300 * time.Millisecond)
		return settled
	})
	at := time.Now()
	reader, err := slo.NewPrometheus(url, 0, func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	for env, want := range map[string]slo.Status{"production": slo.StatusPage, "staging": slo.StatusOK} {
		rep, err := slo.Judge(context.Background(), reader, env, "api", obj, slo.Pairs)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Status != want {
			t.Errorf("%s: status %s, want %s", env, rep.Status, want)
		}
		recorded := func(w time.Duration) float64 {
			v := query(t, prom, slo.BurnRateRule(w)+`{service="api",environment="`+env+`"}`, at)
			if len(v) != 1 {
				t.Fatalf("%s: recorded %s: %v", env, slo.BurnRateRule(w), v)
			}
			return float64(v[0].Value)
		}
		same := func(what string, got *float64, want float64) {
			t.Helper()
			if got == nil || math.Abs(*got-want) > 1e-9*math.Max(1, want) {
				t.Errorf("%s %s: belay computes %v, Prometheus recorded %v", env, what, deref(got), want)
			}
		}
		for _, p := range rep.Pairs {
			same("burn rate "+slo.FormatWindow(p.Long), p.LongBurn, recorded(p.Long))
			same("burn rate "+slo.FormatWindow(p.Short), p.ShortBurn, recorded(p.Short))
		}
		same("budget consumed", rep.BudgetConsumed, recorded(obj.Window))
		t.Logf("%s: status %s, burn 1h %.6f, budget left %.4f", env, rep.Status, *rep.Pairs[0].LongBurn, *rep.BudgetLeft)
	}
	poll(t, "page alert for production", func() bool {
		alerts := query(t, prom, `ALERTS{alertname="BelaySLOBurnPage",alertstate="firing"}`, time.Now())
		return len(alerts) == 1 && alerts[0].Metric["environment"] == "production"
	})
	if a := query(t, prom, `ALERTS{alertname=~"BelaySLOBurn.*",environment="staging"}`, time.Now()); len(a) != 0 {
		t.Errorf("staging alerts %v, want none", a)
	}
	// production burns 60 on every window: the ticket alert fires too
	poll(t, "ticket alert for production", func() bool {
		return len(query(t, prom, `ALERTS{alertname="BelaySLOBurnTicket",environment="production",alertstate="firing"}`, time.Now())) == 1
	})
}

func deref(f *float64) any {
	if f == nil {
		return "none"
	}
	return *f
}
