package builtin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/analysis/builtin"
	"github.com/belay-dev/belay/internal/analysis/replay"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/target"
)

// agentMetrics reads counters from an HTTP endpoint, as a local target
// would from the agent; the test serves them from an httptest server.
type agentMetrics struct{ url string }

func (m agentMetrics) Counters(ctx context.Context, env, service string) ([]target.Counters, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.url+"?env="+env+"&service="+service, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var cs []target.Counters
	return cs, json.NewDecoder(resp.Body).Decode(&cs)
}

func TestBuiltinSourceFiltersAndFails(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("service") != "api" {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		json.NewEncoder(w).Encode([]target.Counters{{Version: "v1", Requests: 100}, {Version: "v2", Requests: 5, Errors: 1}, {Version: "v0"}})
	}))
	src := builtin.New(agentMetrics{srv.URL})
	cs, err := src.Counters(context.Background(), analysis.Query{Environment: "production", Service: "api", Versions: []string{"v2", "v1"}})
	if err != nil || len(cs) != 2 || cs[0].Version != "v1" || cs[1].Errors != 1 {
		t.Fatalf("%+v, %v", cs, err)
	}
	srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := src.Counters(ctx, analysis.Query{Service: "api"}); !errors.Is(err, analysis.ErrNoData) {
		t.Errorf("agent down: %v, want ErrNoData", err)
	}
}

// agent serves a replayed stream's counters as the agent does: every
// version of the service, each cumulative since the version started.
type agent struct{ s *replay.Stream }

func (a agent) Counters(context.Context, string, string) ([]target.Counters, error) {
	return a.s.Counters(), nil
}

// demoStream is the demo's production at 150 requests a second: v2 stable
// with its history, v3 after its smoke tests, then at weight (percent)
// failing 6.5 % of its requests.
func demoStream(weight float64) *replay.Stream {
	s := replay.New(7, time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC),
		replay.Arm{Version: "v2", Rate: 150, ErrorRate: 0.001, Median: 0.01, Sigma: 0.4},
		replay.Arm{Version: "v3", Rate: 1, ErrorRate: 0.065, Median: 0.01, Sigma: 0.4})
	s.Advance(20 * time.Second)
	s.SetRate(0, 150*(1-weight/100))
	s.SetRate(1, 150*weight/100)
	return s
}

// tick runs a through src at the engine's 250 ms ticks until a decision or
// limit, returning the verdict and when it came.
func tick(t *testing.T, a *analysis.Analyzer, s *replay.Stream, weight float64, limit time.Duration) (analysis.Verdict, time.Duration) {
	t.Helper()
	src, t0 := builtin.New(agent{s}), s.Now()
	for {
		v := a.Tick(context.Background(), src, "production", "hello", weight, s.Now())
		if v.Decision != analysis.Continue || s.Now().Sub(t0) >= limit {
			return v, s.Now().Sub(t0)
		}
		s.Advance(250 * time.Millisecond)
	}
}

func trigger(t *testing.T, line string) []analysis.TriggerConfig {
	t.Helper()
	tr, err := spec.ParseTrigger(line)
	if err != nil {
		t.Fatal(err)
	}
	return []analysis.TriggerConfig{{Trigger: tr}}
}

// The user's rule on a canary failing 6.5 % of requests, read from the
// agent's counters: wherever the triggers judge alone, it fires 5 s after
// the canary's first window has data, and its evidence names the canary's
// rate and the requests it rests on.
func TestTriggerFiresOnTheAgentsCounters(t *testing.T) {
	const rule = "error_rate > 1% for 5s"
	for _, c := range []struct {
		name   string
		cfg    analysis.Config
		weight float64
	}{
		{"test none", analysis.Config{Canary: "v3", Stable: "v2", Test: analysis.TestNone}, 10},
		{"first release", analysis.Config{Canary: "v3"}, 10},
		{"all traffic", analysis.Config{Canary: "v3", Stable: "v2"}, 100},
	} {
		c.cfg.Triggers, c.cfg.MinDuration = trigger(t, rule), time.Minute
		a, err := analysis.New(c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		v, at := tick(t, a, demoStream(c.weight), c.weight, time.Minute)
		if v.Decision != analysis.Fail || v.Trigger != rule {
			t.Fatalf("%s: %s %q after %v, want the trigger to fire", c.name, v.Decision, v.Reason, at)
		}
		if at < 5*time.Second || at > 7*time.Second {
			t.Errorf("%s: fired after %v, want 5 s after the first window with data", c.name, at)
		}
		e := evidence(t, v, rule)
		if e.State != analysis.StateFiring || e.Canary < 0.02 || e.Canary > 0.15 || e.CanaryN < 10 || e.Threshold != 0.01 {
			t.Errorf("%s: evidence %+v", c.name, e)
		}
		if !strings.Contains(v.Reason, fmt.Sprintf("(%d requests)", e.CanaryN)) || !strings.Contains(v.Reason, "v3 error_rate") {
			t.Errorf("%s: reason %q does not name the canary's numbers", c.name, v.Reason)
		}
	}
}

// With the comparison on, the sequential test rolls the canary back first;
// the trigger had seen the canary's errors by then (pending, with its rate
// and requests), never "no data, canary 0".
func TestTriggerSeesTheCanaryTheComparisonRollsBack(t *testing.T) {
	const rule = "error_rate > 1% for 5s"
	a, err := analysis.New(analysis.Config{Canary: "v3", Stable: "v2", Triggers: trigger(t, rule), MinDuration: time.Minute, MinCanaryRequests: 50})
	if err != nil {
		t.Fatal(err)
	}
	v, at := tick(t, a, demoStream(10), 10, time.Minute)
	if v.Decision != analysis.Fail || v.Trigger != "sequential:errors" {
		t.Fatalf("%s %q after %v, want the sequential test to roll back", v.Decision, v.Reason, at)
	}
	e := evidence(t, v, rule)
	if e.State != analysis.StatePending || e.Canary <= 0.01 || e.CanaryN < 10 || e.StableN < 100 {
		t.Errorf("after %v the trigger says %+v, want pending with the canary's rate and requests", at, e)
	}
}

func evidence(t *testing.T, v analysis.Verdict, check string) analysis.Evidence {
	t.Helper()
	for _, e := range v.Evidence {
		if e.Check == check {
			return e
		}
	}
	t.Fatalf("no evidence for %q in %+v", check, v.Evidence)
	return analysis.Evidence{}
}
