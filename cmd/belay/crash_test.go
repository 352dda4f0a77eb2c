package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/loadgen"
	"github.com/belay-dev/belay/internal/rollout"
)

// TestServerCrashInEveryPhase runs real releases with the server and the
// agent as separate processes and kills the server with SIGKILL as soon as
// the production rollout is seen in each phase, then starts it again on the
// same state. A good release must still be promoted and a bad one rolled
// back, with every transition and event exactly once, while production
// serves 200 requests a second without a failed one (other than the bad
// version's own 5xx answers).
func TestServerCrashInEveryPhase(t *testing.T) {
	if testing.Short() {
		t.Skip("builds belay and examples/hello, runs real releases and kills the server")
	}
	began := time.Now()
	r, production, v1, v2, v3 := newReleaseRig(t)
	load := loadgen.Start("http://"+production+"/", loadgen.Options{Rate: 200, Header: api.VersionHeader, Client: &http.Client{Timeout: 10 * time.Second}})
	defer load.Stop()
	r.releaseThroughCrashes(v2, "Succeeded", v2)
	r.releaseThroughCrashes(v3, "RolledBack", v2)
	// A rollback with no rollout in flight is a rollout of its own: killed
	// right after it was asked for, the server finishes it on restart.
	var rb api.RollbackAnswer
	if err := r.post("/api/v1/rollback", api.RollbackRequest{Service: "hello",
		CommandRequest: api.CommandRequest{Reason: "back to v1", Env: "production", To: v1}}, &rb); err != nil {
		t.Fatal(err)
	}
	r.crash()
	v := r.follow(rb.Rollout, false)
	if v.Phase != "RolledBack" || r.stable("production") != v1 {
		t.Fatalf("idle rollback ended %s, production's stable %s; transitions:\n%s", v.Phase, r.stable("production"), v.path())
	}
	if v.state().Kind != rollout.KindRollback {
		t.Fatalf("idle rollback: rollout %d is of kind %q", rb.Rollout, v.state().Kind)
	}
	if err := checkRollbackChain(v.Transitions); err != nil {
		t.Fatalf("idle rollback: %v", err)
	}
	r.agree("production")
	// Let the proxy settle on v2 alone before the books are closed.
	time.Sleep(time.Second)
	got := load.Stop()
	bad, allowed := got.Except(v3)
	t.Logf("load: %d requests, %d ok, %d 5xx answered by %s (allowed), %d other failures %v",
		got.Sent, got.OK, allowed, v3, len(bad), bad[:min(len(bad), 10)])
	t.Logf("server restarts: %d, mean time from SIGKILL to API answering again: %s; whole test %s",
		r.restarts, (r.downtime / time.Duration(max(r.restarts, 1))).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	if len(bad) > 0 {
		t.Fatalf("requests failed while the server was killed and restarted: %v", bad)
	}
	if got.Sent < 1000 {
		t.Fatalf("only %d requests were sent; the load did not run throughout", got.Sent)
	}
}

// newReleaseRig builds belay and three versions of hello (v3 fails 30 %
// of requests), starts agent and server and releases v1 everywhere.
func newReleaseRig(t *testing.T) (r *crashRig, production, v1, v2, v3 string) {
	began := time.Now()
	staging, production := freePort(t), freePort(t)
	r = newCrashRig(t, func(y string) string { return crashYAML(t, y, staging, production) })
	r.run(r.bin, "keys", "create")
	v1 = r.commit("v1")
	editFile(t, filepath.Join(r.proj, "main.go"), `"service": "hello",`, `"service": "hello", "greeting": "hi",`)
	v2 = r.commit("v2")
	bug := "package main\n\n// Under load, 30 % of requests fail.\nfunc init() { bugErrorRate, bugAfter = 0.3, 20 }\n"
	if err := os.WriteFile(filepath.Join(r.proj, "bug.go"), []byte(bug), 0o644); err != nil {
		t.Fatal(err)
	}
	v3 = r.commit("v3")
	t.Logf("built belay and %s, %s, %s in %s", v1, v2, v3, time.Since(began).Round(time.Millisecond))
	r.start()
	r.run(r.bin, "release", "hello", v1)
	if got := r.follow(r.rolloutOf("production", v1), false).Phase; got != "Succeeded" {
		t.Fatalf("v1 in production ended %s", got)
	}
	return r, production, v1, v2, v3
}

// releaseThroughCrashes releases version with r.kill in every phase of
// staging's and production's rollouts, and checks that production ends
// in want with stable, each promotion exactly once, agent and server agreeing.
func (r *crashRig) releaseThroughCrashes(version, want, stable string) {
	t := r.t
	t.Helper()
	out := r.run(r.bin, "release", "hello", version)
	m := regexp.MustCompile(`(?m)^rollout (\d+) started in staging`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("release %s: no staging rollout in %q", version, out)
	}
	first, _ := strconv.ParseInt(m[1], 10, 64)
	r.crashRollout(first, version, "Succeeded")
	if got := r.stable("staging"); got != version {
		t.Fatalf("after %s, staging's stable is %q", version, got)
	}
	id := r.rolloutOf("production", version)
	r.crashRollout(id, version, want)
	if got := r.stable("production"); got != stable {
		t.Fatalf("after %s, production's stable is %q, want %s", version, got, stable)
	}
	var rows []rolloutView
	if err := r.get("/api/v1/history?service=hello&environment=production", &rows); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, row := range rows {
		if row.Version == version {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%s has %d rollouts in production, want 1: the promotion from staging was not exactly once", version, n)
	}
	r.agree("staging")
	r.agree("production")
}

// TestAgentCrashInEveryPhase kills the agent with SIGKILL as soon as the
// rollout is seen in each phase: for the good release its child (the keeper
// restarts it at once, holding the sockets: no connection may be refused,
// and no request fail but the one or two in flight on the killed child);
// for the bad one the keeper itself (its child hands over and exits, the
// instances keep running, and the agent is started again as systemd or
// `belay up` would). Both releases must end as without the kills.
func TestAgentCrashInEveryPhase(t *testing.T) {
	if testing.Short() {
		t.Skip("builds belay and examples/hello, runs real releases and kills the agent")
	}
	began := time.Now()
	r, production, _, v2, v3 := newReleaseRig(t)
	loadStart := time.Now()
	load := loadgen.Start("http://"+production+"/", loadgen.Options{Rate: 200, Header: api.VersionHeader, Client: &http.Client{Timeout: 10 * time.Second}})
	defer load.Stop()

	r.kill = r.killAgentChild
	r.releaseThroughCrashes(v2, "Succeeded", v2)
	time.Sleep(500 * time.Millisecond)
	got := load.Tally()
	childKills, restart := r.restarts, r.downtime/time.Duration(max(r.restarts, 1))
	bad, _ := got.Except()
	refused := 0
	for _, f := range bad {
		if strings.Contains(f.Err, "connection refused") {
			refused++
		}
	}
	t.Logf("agent child killed %d times under 200 req/s: %d requests, %d failed %v, %d refused; mean time to a new child: %s",
		childKills, got.Sent, len(bad), bad[:min(len(bad), 10)], refused, restart.Round(time.Millisecond))
	var at []string
	for _, k := range r.killedAt {
		at = append(at, fmt.Sprintf("%.2fs", k.Sub(loadStart).Seconds()))
	}
	t.Logf("kills at %s", strings.Join(at, " "))
	if refused > 0 || len(bad) > childKills {
		t.Errorf("kill -9 of the agent's child: %d refused connections and %d failed requests over %d kills; want none refused, at most one in flight per kill", refused, len(bad), childKills)
	}

	r.kill = r.killAgentKeeper
	r.restarts, r.downtime = 0, 0
	r.releaseThroughCrashes(v3, "RolledBack", v2)
	after := load.Stop()
	t.Logf("agent keeper killed %d times: %d requests in all, mean time to the agent serving again %s; whole test %s",
		r.restarts, after.Sent, (r.downtime / time.Duration(max(r.restarts, 1))).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

// crashRollout follows rollout id, killing the server in each phase, and
// checks it ended in want along a valid chain with every event stored once;
// a promotion must take exactly the path of an uninterrupted one.
func (r *crashRig) crashRollout(id int64, version, want string) {
	t := r.t
	t.Helper()
	t0, restarts := time.Now(), r.restarts
	v := r.follow(id, true)
	t.Logf("%s: rollout %d (%s) ended %s in %s; killed in %s (%d restarts); phases not seen: %v", version, id,
		v.Environment, v.Phase, time.Since(t0).Round(time.Millisecond), strings.Join(v.hits, ", "), r.restarts-restarts, v.missed())
	t.Logf("rollout %d: time in each phase: %s", id, v.timingsString())
	if v.Phase != want {
		t.Fatalf("%s ended %s in %s, want %s; transitions:\n%s\n%s", version, v.Phase, v.Environment, want, v.path(),
			r.run(r.bin, "explain", strconv.FormatInt(id, 10)))
	}
	if err := checkChain(v.Transitions); err != nil {
		t.Fatalf("%s in %s: %v; transitions:\n%s", version, v.Environment, err, v.path())
	}
	// The same decision for the same reason: a bad version is rolled back
	// by the canary's analysis, not because a kill made an action fail.
	for _, tr := range v.Transitions {
		if want == "RolledBack" && tr.To == rollout.RollingBack && tr.From != rollout.Canary {
			t.Fatalf("%s in %s was rolled back from %s, not by the canary analysis; transitions:\n%s\n%s", version, v.Environment, tr.From, v.path(),
				r.run(r.bin, "explain", strconv.FormatInt(id, 10)))
		}
	}
	if want == "Succeeded" {
		if got, want := v.path(), promotedPath(len(v.steps())); got != want {
			t.Fatalf("%s in %s took another path than an uninterrupted promotion:\n got\n%s want\n%s", version, v.Environment, got, want)
		}
	}
	// Polling every 10 ms cannot miss a phase that lasts half a second;
	// faster ones may slip through and are only logged.
	// Starting a killed agent's keeper again takes longer than that.
	longest := 500 * time.Millisecond
	if r.restarts > 0 && r.downtime/time.Duration(r.restarts) > 500*time.Millisecond {
		longest += r.downtime / time.Duration(r.restarts)
	}
	for _, p := range v.timings() {
		if p.d >= longest && !slices.Contains(v.hits, p.name) {
			t.Errorf("%s in %s: %s lasted %s, but nothing was killed in it", version, v.Environment, p.name, p.d)
		}
	}
	if len(v.hits) < 4 {
		t.Errorf("%s in %s: killed in only %d phases (%v); the test needs to see most of them", version, v.Environment, len(v.hits), v.hits)
	}
	r.checkEvents(id, v.Transitions)
}

// crashYAML gives the example free ports, a migration and a smoke test that
// take a second each (so Migrating and SmokeTesting are seen), canary steps
// and a watch long enough to be seen.
func crashYAML(t *testing.T, y, staging, production string) string {
	for _, e := range [][2]string{
		{"127.0.0.1:18081", staging},
		{"127.0.0.1:18082", production},
		{"body_contains: hello}\n", "body_contains: hello}\n      - name: hold\n        command: sleep 1\n"},
		{"    rollout:\n      strategy: canary\n", "    migration: {command: sleep 1, type: expand_only}\n    rollout:\n      strategy: canary\n"},
		{"- {weight: 10%, min_duration: 5s}", "- {weight: 10%, min_duration: 4s}"},
		{"- {weight: 50%, min_duration: 5s}", "- {weight: 50%, min_duration: 4s}"},
		{"- {weight: 100%}", "- {weight: 100%, min_duration: 2s}"},
		{"      drain_timeout: 2s\n", "      drain_timeout: 2s\n      watch: 3s\n"},
	} {
		if !strings.Contains(y, e[0]) {
			t.Fatalf("examples/hello/belay.yaml no longer contains %q; update the crash test", e[0])
		}
		y = strings.Replace(y, e[0], e[1], 1)
	}
	return y
}

func editFile(t *testing.T, path, old, new string) {
	b, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(b), old) {
		t.Fatalf("%s: %q not found (%v)", path, old, err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// rolloutView is the part of GET /api/v1/rollouts/{id} the test reads.
type rolloutView struct {
	ID          int64                `json:"id"`
	Environment string               `json:"environment"`
	Version     string               `json:"version"`
	Phase       string               `json:"phase"`
	Terminal    bool                 `json:"terminal"`
	State       json.RawMessage      `json:"state"`
	Transitions []rollout.Transition `json:"transitions"`
	hits        []string             // phases the server was killed in
}

func (v rolloutView) state() rollout.State {
	var s rollout.State
	_ = json.Unmarshal(v.State, &s)
	return s
}

func (v rolloutView) steps() []rollout.Step { return v.state().Steps }

// missed lists the phases the rollout went through that the server was not
// killed in (too fast for the poll).
func (v rolloutView) missed() []string {
	var out []string
	for _, p := range v.timings() {
		if !slices.Contains(v.hits, p.name) && !slices.Contains(out, p.name) {
			out = append(out, p.name)
		}
	}
	return out
}

// phaseTime is how long a rollout stayed in one phase (canary steps apart).
type phaseTime struct {
	name string
	d    time.Duration
}

// phaseKey names a phase as the test counts them: each canary step apart.
func phaseKey(p rollout.Phase, step int) string {
	if p == rollout.Canary {
		return fmt.Sprintf("Canary[%d]", step)
	}
	return string(p)
}

// timings lists the phases the rollout went through, with the time spent in each.
func (v rolloutView) timings() []phaseTime {
	var out []phaseTime
	var start time.Time
	for i, t := range v.Transitions {
		if i > 0 {
			prev := v.Transitions[i-1]
			if t.To == prev.To && t.Step == prev.Step {
				continue // a settle: same phase
			}
			out = append(out, phaseTime{phaseKey(prev.To, prev.Step), t.At.Sub(start)})
		}
		start = t.At
	}
	return out
}

func (v rolloutView) timingsString() string {
	var parts []string
	for _, p := range v.timings() {
		parts = append(parts, fmt.Sprintf("%s %s", p.name, p.d.Round(10*time.Millisecond)))
	}
	return strings.Join(parts, ", ")
}

// path is the transitions one per line: seq from → to [step] cause.
func (v rolloutView) path() string {
	var b strings.Builder
	for _, t := range v.Transitions {
		fmt.Fprintf(&b, "%d %s → %s [%d] %s\n", t.Seq, t.From, t.To, t.Step, t.Cause)
	}
	return b.String()
}

// promotedPath is the path of an uninterrupted promotion with hooks and n
// canary steps: each phase entered once, each canary step settled once.
func promotedPath(n int) string {
	v := rolloutView{}
	add := func(from, to rollout.Phase, step int, cause rollout.ObservationKind) {
		v.Transitions = append(v.Transitions, rollout.Transition{Seq: int64(len(v.Transitions) + 1), From: from, To: to, Step: step, Cause: cause})
	}
	add(rollout.Pending, rollout.Verifying, 0, rollout.Tick)
	add(rollout.Verifying, rollout.Migrating, 0, rollout.Done)
	add(rollout.Migrating, rollout.Deploying, 0, rollout.Done)
	add(rollout.Deploying, rollout.SmokeTesting, 0, rollout.Done)
	add(rollout.SmokeTesting, rollout.Canary, 0, rollout.Done)
	for i := range n {
		add(rollout.Canary, rollout.Canary, i, rollout.Done)
		if i < n-1 {
			add(rollout.Canary, rollout.Canary, i+1, rollout.Judged)
		}
	}
	add(rollout.Canary, rollout.Watching, n-1, rollout.Judged)
	add(rollout.Watching, rollout.Watching, n-1, rollout.Done)
	add(rollout.Watching, rollout.Promoting, n-1, rollout.Tick)
	add(rollout.Promoting, rollout.Succeeded, n-1, rollout.Done)
	return v.path()
}
