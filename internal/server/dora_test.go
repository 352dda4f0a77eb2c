package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/store"
)

// recordRollout stores a rollout of version in env walking phases, one
// transition each minute from start, the last one terminal.
func recordRollout(t *testing.T, st store.Store, version, env string, start time.Time, phases ...string) int64 {
	t.Helper()
	ctx := context.Background()
	rel, err := st.CreateRelease(ctx, store.Release{Service: "hello", Version: version, Owner: "ann", Plan: json.RawMessage(`{}`), CreatedAt: start})
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.CreateRollout(ctx, store.Rollout{ReleaseID: rel.ID, Environment: env,
		RolloutState: store.RolloutState{Phase: "Pending", State: json.RawMessage(`{}`)}, CreatedAt: start}, store.Effects{})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range phases {
		next := store.RolloutState{Phase: p, State: json.RawMessage(`{}`), Terminal: i == len(phases)-1}
		if r, err = st.Transition(ctx, r.ID, r.Seq, next, store.Step{At: start.Add(time.Duration(i+1) * time.Minute), Reason: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	return r.ID
}

func getDORA(t *testing.T, url, query string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url + "/api/v1/dora" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestDORAFromTheStore: a deployment and a canary rolled back in
// production, a deployment in staging and one in production before the
// window, through GET /api/v1/dora.
func TestDORAFromTheStore(t *testing.T) {
	s, st := testServer(t)
	hs, _ := authedServer(t, s)
	ctx := context.Background()
	day := 24 * time.Hour
	now := time.Now().UTC()
	if err := st.RecordArtifact(ctx, store.Artifact{Digest: "sha256:aa", Version: "hello-v2", Service: "hello", BuiltAt: now.Add(-3 * day)}); err != nil {
		t.Fatal(err)
	}
	recordRollout(t, st, "hello-v1", "production", now.Add(-40*day), "Verifying", "Deploying", "Canary", "Promoting", "Succeeded")
	recordRollout(t, st, "hello-v1", "staging", now.Add(-5*day), "Verifying", "Deploying", "Succeeded")
	// Started two days ago, succeeded five minutes later: lead time 2 days 5 min.
	recordRollout(t, st, "hello-v2", "production", now.Add(-2*day), "Verifying", "Deploying", "Canary", "Promoting", "Succeeded")
	// Went bad at its fourth minute, rolled back at its fifth.
	bad := recordRollout(t, st, "hello-v3", "production", now.Add(-day), "Verifying", "Deploying", "Canary", "RollingBack", "RolledBack")
	// Failed verification: nothing was deployed, so it is no change.
	recordRollout(t, st, "hello-v4", "production", now.Add(-day/2), "Verifying", "Failed")

	code, b := getDORA(t, hs.URL, "?service=hello")
	if code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	var rep api.DORAReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	f := func(p *float64) float64 {
		if p == nil {
			return -1
		}
		return *p
	}
	if rep.Environment != "production" || rep.Since != "30d" || rep.To.Sub(rep.From) != 30*day {
		t.Errorf("report of %s over %s (%s → %s); want production over 30d", rep.Environment, rep.Since, rep.From, rep.To)
	}
	if d := rep.DeploymentFrequency; d.Deployments != 1 || d.PerWeek != 7.0/30 {
		t.Errorf("deployment frequency %+v; want 1, %g a week", d, 7.0/30)
	}
	if l := rep.LeadTime; l.N != 1 || f(l.MedianSeconds) != (day+5*time.Minute).Seconds() || rep.LeadTimeUnknown != 0 {
		t.Errorf("lead time %+v (median %v), %d unknown; want 1 of 2 days 5 min", l, f(l.MedianSeconds), rep.LeadTimeUnknown)
	}
	if c := rep.ChangeFailureRate; c.Changes != 2 || c.Failed != 1 || f(c.Rate) != 0.5 || len(c.Rollouts) != 1 || c.Rollouts[0] != bad {
		t.Errorf("change failure rate %+v (%v); want 1 of 2, rollout %d", c, f(c.Rate), bad)
	}
	if r := rep.TimeToRestore; r.N != 1 || f(r.MedianSeconds) != 60 {
		t.Errorf("time to restore %+v (%v); want 1 of 60 s", r, f(r.MedianSeconds))
	}

	// Another service has no data: nulls, not zeros.
	code, b = getDORA(t, hs.URL, "?service=other&environment=staging&since=1w")
	if code != 200 || !strings.Contains(string(b), `"lead_time":{"n":0,"median_seconds":null,"p90_seconds":null}`) ||
		!strings.Contains(string(b), `"change_failure_rate":{"changes":0,"failed":0,"rate":null}`) {
		t.Errorf("no data: %d %s", code, b)
	}
	for query, want := range map[string]string{
		"?since=30":              `{"error":"bad request: since: bad window: \"30\": give a whole number of days or weeks (30d, 4w) or a duration (12h)"}`,
		"?environment=prod":      `{"error":"bad request: environment \"prod\" is not defined in belay.yaml; defined: staging, production"}`,
		"?since=400d&service=hi": `{"error":"bad request: since: bad window: \"400d\": give a window longer than zero and at most 366d"}`,
	} {
		if code, b := getDORA(t, hs.URL, query); code != 422 || strings.TrimSpace(string(b)) != want {
			t.Errorf("%s: %d %s; want 422 %s", query, code, b, want)
		}
	}
}
