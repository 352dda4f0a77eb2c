package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/loadgen"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/open"
	"github.com/belay-dev/belay/internal/store/storetest"
	"github.com/belay-dev/belay/internal/testenv"
)

// TestPostgresServerResumesOnAnotherHost: a server whose state is in
// PostgreSQL and whose artifacts are in a registry is killed mid-canary,
// and a new one starts with an empty home — as on another host. It resumes
// the canary step's sequential test from the store (same start, counts
// that kept growing) rather than starting it again, and the release goes on.
func TestPostgresServerResumesOnAnotherHost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds belay and examples/hello, runs a release on PostgreSQL and a registry")
	}
	pg, r, production, v1, v2 := postgresRig(t, "belay-crash")

	r.serverHome = t.TempDir() // host A
	r.start()
	r.env = append(r.env, "BELAY_SERVER="+r.api)
	load, st, id, before := canaryUnderLoad(t, r, pg, production, v1, v2)

	// Host A dies; host B starts with nothing of A's home.
	if err := r.server.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = r.server.Wait()
	r.serverHome = t.TempDir()
	r.startServer()
	after := waitAnalysis(t, st, id, func(a analysisView) bool {
		return a.State.Canary.Total.Requests > before.State.Canary.Total.Requests
	})
	if !after.State.Started.Equal(before.State.Started) {
		t.Fatalf("the new server started the step's test again (started %s, was %s)", after.State.Started, before.State.Started)
	}
	t.Logf("step 0's test: %d canary requests before the kill, %d after, started at %s on both hosts",
		before.State.Canary.Total.Requests, after.State.Canary.Total.Requests, before.State.Started.Format(time.RFC3339Nano))
	if v := r.follow(id, false); v.Phase != "Succeeded" {
		t.Fatalf("v2 in production ended %s on the second host:\n%s", v.Phase, v.path())
	}
	if got := load.Stop(); len(got.Failures) > 0 {
		t.Fatalf("requests failed: %v", got.Failures[:min(len(got.Failures), 10)])
	}
}

// postgresRig is a crash rig whose state is in PostgreSQL and whose
// artifacts are in a registry (repository prefix/<random>), with hello's
// canary steps lengthened to 25 s and two versions built; nothing runs yet.
func postgresRig(t *testing.T, prefix string) (pg string, r *crashRig, production, v1, v2 string) {
	pg = storetest.PostgresURL(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	repo := "oci://" + testenv.Registry(t) + "/" + prefix + "/" + hex.EncodeToString(b)
	staging := freePort(t)
	production = freePort(t)
	r = newCrashRig(t, func(y string) string {
		y = strings.NewReplacer("127.0.0.1:18081", staging, "127.0.0.1:18082", production,
			"- {weight: 10%, min_duration: 5s}", "- {weight: 10%, min_duration: 25s}").Replace(y)
		return y + "\nartifacts:\n  store: " + repo + "\n  trusted_keys: [keys/belay.pub]\n"
	})
	r.env = append(r.env, "BELAY_STATE="+pg)
	r.run(r.bin, "keys", "create")
	if err := os.MkdirAll(filepath.Join(r.proj, "keys"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.run("cp", filepath.Join(r.home, "keys", "belay.pub"), filepath.Join(r.proj, "keys", "belay.pub"))
	v1 = r.commit("v1")
	editFile(t, filepath.Join(r.proj, "main.go"), `"service": "hello",`, `"service": "hello", "greeting": "hi",`)
	v2 = r.commit("v2")
	return pg, r, production, v1, v2
}

// canaryUnderLoad releases v1 through to production, then v2 under 100
// requests a second to production, and returns once v2's first canary step
// has judged 60 canary requests: the load, the store (to watch the step's
// test), v2's production rollout and its analysis then. Load and store end
// with the test.
func canaryUnderLoad(t *testing.T, r *crashRig, pg, production, v1, v2 string) (*loadgen.Load, store.Store, int64, analysisView) {
	t.Helper()
	r.run(r.bin, "release", "hello", v1)
	if got := r.follow(r.rolloutOf("production", v1), false).Phase; got != "Succeeded" {
		t.Fatalf("v1 in production ended %s", got)
	}
	load := loadgen.Start("http://"+production+"/", loadgen.Options{Rate: 100, Header: api.VersionHeader})
	t.Cleanup(func() { load.Stop() })
	r.run(r.bin, "release", "hello", v2)
	id := r.rolloutOf("production", v2)
	st, err := open.Open(context.Background(), pg, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return load, st, id, waitAnalysis(t, st, id, func(a analysisView) bool { return a.State.Canary.Total.Requests >= 60 })
}

// analysisView is the part of a stored analyzer the test reads.
type analysisView struct {
	State struct {
		Started time.Time `json:"started"`
		Canary  struct {
			Total struct {
				Requests int64 `json:"requests"`
			} `json:"total"`
		} `json:"canary"`
	} `json:"state"`
}

// waitAnalysis polls rollout id's step 0 analyzer in the store until ok.
func waitAnalysis(t *testing.T, st interface {
	LoadAnalysis(ctx context.Context, rolloutID int64, step int) (json.RawMessage, error)
}, id int64, ok func(analysisView) bool) analysisView {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var last string
	for time.Now().Before(deadline) {
		b, err := st.LoadAnalysis(context.Background(), id, 0)
		if err == nil {
			var a analysisView
			if err := json.Unmarshal(b, &a); err != nil {
				t.Fatal(err)
			}
			if ok(a) {
				return a
			}
			last = fmt.Sprintf("%+v", a)
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("rollout %d's analysis in the store never got there; last: %s", id, last)
	return analysisView{}
}

// TestPostgresLeaderFailover: two servers run at once on one PostgreSQL,
// as replicas; only the leader drives rollouts. The leader is killed with
// SIGKILL mid-canary: the other takes over within 15 s, resumes the canary
// step's sequential test from the store, and finishes the rollout exactly
// once — the path of an uninterrupted promotion, no transition twice.
func TestPostgresLeaderFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("builds belay and examples/hello, runs two servers on PostgreSQL and kills the leader")
	}
	pg, r, production, v1, v2 := postgresRig(t, "belay-leader")

	homeA, homeB := t.TempDir(), t.TempDir()
	r.serverHome = homeA
	r.start() // the agent and server A
	a := r.server
	apiA := r.api
	if r.token() == "" { // A made the first admin token in its home; B makes none
		t.Fatal("server A wrote no admin token")
	}
	r.serverHome = homeB
	r.startServer() // server B, beside A
	bsrv := r.server
	apiB := r.api
	t.Cleanup(func() {
		for _, c := range []*exec.Cmd{a, bsrv} {
			if c.ProcessState == nil {
				_ = c.Process.Kill()
				_ = c.Wait()
			}
		}
	})
	leaderOf := func() (string, error) { // the API of the server whose metrics say it leads
		var leaders []string
		for _, u := range []string{apiA, apiB} {
			r.api = u
			var body string
			if err := r.raw("/metrics", &body); err != nil {
				continue
			}
			if strings.Contains(body, "\nbelay_server_leader 1\n") {
				leaders = append(leaders, u)
			}
		}
		if len(leaders) != 1 {
			return "", fmt.Errorf("%d leaders: %v", len(leaders), leaders)
		}
		return leaders[0], nil
	}
	var leader string
	for deadline := time.Now().Add(15 * time.Second); leader == ""; {
		var err error
		if leader, err = leaderOf(); err != nil && time.Now().After(deadline) {
			t.Fatalf("two servers on one store: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.api = leader
	r.env = append(r.env, "BELAY_SERVER="+leader)
	load, st, id, before := canaryUnderLoad(t, r, pg, production, v1, v2)

	// The leader dies; the replica must take over on its own.
	dead, survivor, survivorAPI := a, bsrv, apiB
	if leader == apiB {
		dead, survivor, survivorAPI = bsrv, a, apiA
	}
	killed := time.Now()
	if err := dead.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = dead.Wait()
	var took time.Duration
	for {
		if l, err := leaderOf(); err == nil && l == survivorAPI {
			took = time.Since(killed)
			break
		}
		if time.Since(killed) > 20*time.Second {
			t.Fatalf("no server took the lead within 20 s of the leader's death")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if took > 15*time.Second {
		t.Errorf("the replica took the lead %s after the leader died; want within 15 s", took.Round(time.Millisecond))
	}
	r.api, r.server = survivorAPI, survivor
	after := waitAnalysis(t, st, id, func(a analysisView) bool {
		return a.State.Canary.Total.Requests > before.State.Canary.Total.Requests
	})
	if !after.State.Started.Equal(before.State.Started) {
		t.Fatalf("the new leader started the step's test again (started %s, was %s)", after.State.Started, before.State.Started)
	}
	v := r.follow(id, false)
	if v.Phase != "Succeeded" {
		t.Fatalf("v2 in production ended %s under the new leader:\n%s", v.Phase, v.path())
	}
	seen := map[string]bool{}
	for _, tr := range v.Transitions {
		k := fmt.Sprintf("%s → %s [%d] %s", tr.From, tr.To, tr.Step, tr.Cause)
		if seen[k] {
			t.Fatalf("transition %q twice: the failover repeated a step:\n%s", k, v.path())
		}
		seen[k] = true
	}
	if got := load.Stop(); len(got.Failures) > 0 {
		t.Fatalf("requests failed: %v", got.Failures[:min(len(got.Failures), 10)])
	}
	t.Logf("leader killed mid-canary; the replica led %s later and finished the rollout (%d canary requests before, %d after, one test)",
		took.Round(time.Millisecond), before.State.Canary.Total.Requests, after.State.Canary.Total.Requests)
}
