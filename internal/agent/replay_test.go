package agent

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/target"
)

// The agent tests' binary doubles as a service that records every request
// it serves on its log, so that a test can count what reached an instance:
// with envRecorder set, it serves instead of testing.
const (
	envRecorder = "BELAY_AGENT_TEST_RECORDER"
	envFail     = "BELAY_AGENT_TEST_FAIL" // a path prefix answered 500
	envEcho     = "BELAY_AGENT_TEST_ECHO" // a variable whose value is logged at start
)

func TestMain(m *testing.M) {
	if os.Getenv(envRecorder) != "" {
		os.Exit(record())
	}
	os.Exit(m.Run())
}

// record serves on PORT, logging "METHOD path shadow=<mark>" per request.
func record() int {
	fail := os.Getenv(envFail)
	if name := os.Getenv(envEcho); name != "" {
		fmt.Printf("%s is %s\n", name, os.Getenv(name))
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			return
		}
		fmt.Printf("%s %s shadow=%s\n", r.Method, r.URL.Path, r.Header.Get("X-Belay-Shadow"))
		if fail != "" && strings.HasPrefix(r.URL.Path, fail) {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), h); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// recorderOpener opens every reference as a directory holding this test
// binary as "recorder".
type recorderOpener struct{ dir string }

func (o recorderOpener) Open(context.Context, string) (string, error) { return o.dir, nil }

// recorderAgent is an agent running recorders; close closes it once.
func recorderAgent(t *testing.T) (a *Agent, close func()) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(self, filepath.Join(dir, "recorder")); err != nil {
		t.Fatal(err)
	}
	a, err = New(Config{StateDir: t.TempDir(), Opener: recorderOpener{dir}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	close = func() { once.Do(func() { a.Close(true) }) }
	t.Cleanup(close)
	return a, close
}

func recorder(name string, weight float64, env ...string) target.Version {
	v := hello(name, weight, 1, env...)
	v.Artifact, v.Run.Command = "recorder:"+name, "recorder"
	v.Run.Env[envRecorder] = "1"
	return v
}

// logged counts the requests the instances of a version logged, by method
// and mark ("GET shadow=1").
func logged(t *testing.T, a *Agent, env, version string) map[string]int {
	t.Helper()
	files, err := a.LogFiles(env, "hello", version)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, f := range files {
		b, _ := os.ReadFile(f.Path)
		for line := range strings.Lines(string(b)) {
			if f := strings.Fields(line); len(f) == 3 && strings.HasPrefix(f[2], "shadow=") {
				n[f[0]+" "+f[2]]++
			}
		}
	}
	return n
}

func shadowOf(t *testing.T, a *Agent, env, version string) *target.ShadowCounters {
	t.Helper()
	cs, err := a.Counters(context.Background(), env, "hello")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Version == version {
			return c.Shadow
		}
	}
	return nil
}

// A staging with no users judges a new version on production's requests:
// its GETs are replayed to staging's stable and new versions, the pairs
// count on the new version as mirrored pairs do, and a POST is never
// replayed.
func TestReplayJudgesStagingOnProductionRequests(t *testing.T) {
	a, closeAgent := recorderAgent(t)
	prod := desired(recorder("p1", 100))
	prod.Environment = "production"
	prodURL := apply(t, a, prod)
	stagingWith := func(shadow target.Version) target.Desired {
		d := desired(recorder("s1", 100), shadow)
		d.Environment = "staging"
		d.Shadow = &target.Shadow{Version: shadow.Version, Share: 100, Replay: "production"}
		return d
	}
	// Half of the paths production users ask for fail on s2.
	apply(t, a, stagingWith(recorder("s2", 0, envFail, "/fail")))
	waitFor(t, "an empty sample shown as the reason for no pairs", func() bool {
		sh := shadowOf(t, a, "staging", "s2")
		return sh != nil && sh.Dropped["no_sample"] > 0 && sh.Sent == 0
	})

	users := time.Now().Add(1500 * time.Millisecond)
	for i := 0; time.Now().Before(users); i++ {
		// In random order: the sample keeps the first request after each
		// SampleEvery, which a fixed order would phase-lock to one path.
		paths := []string{"/ok/", "/fail/", "/ok/post"}
		rand.Shuffle(len(paths), func(i, j int) { paths[i], paths[j] = paths[j], paths[i] })
		for _, path := range paths {
			if path == "/ok/post" {
				resp, err := http.Post(fmt.Sprint(prodURL, path, i), "text/plain", strings.NewReader("x"))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				continue
			}
			if _, err := served(http.DefaultClient, fmt.Sprint(prodURL, path, i)); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	var sh *target.ShadowCounters
	waitFor(t, "replayed pairs of both outcomes", func() bool {
		sh = shadowOf(t, a, "staging", "s2")
		return sh != nil && sh.NewFailed > 0 && sh.BothOK > 0 && sh.BothOK+sh.NewFailed >= 40
	})
	if sh.StableFailed+sh.BothFailed != 0 {
		t.Errorf("staging s2 %+v; only the new version fails", sh)
	}
	if p := logged(t, a, "production", "p1"); p["POST shadow="] == 0 || p["GET shadow="] == 0 {
		t.Fatalf("production served %v; want users' GETs and POSTs", p)
	}
	for _, v := range []string{"s1", "s2"} {
		got := logged(t, a, "staging", v)
		if got["GET shadow=1"] < 40 || len(got) != 1 {
			t.Errorf("staging %s served %v; want only replayed GETs, marked", v, got)
		}
	}
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if want := `belay_replay_sample_requests{environment="production",service="hello"} `; !strings.Contains(rec.Body.String(), want) ||
		strings.Contains(rec.Body.String(), want+"0\n") {
		t.Errorf("/metrics lacks a production sample: %s", want)
	}

	// A new version that behaves as stable does: no failed pair.
	apply(t, a, stagingWith(recorder("s3", 0)))
	waitFor(t, "replayed pairs for an identical version", func() bool {
		sh = shadowOf(t, a, "staging", "s3")
		return sh != nil && sh.BothOK >= 40
	})
	if sh.NewFailed != 0 || sh.StableFailed != 0 || sh.BothFailed != 0 {
		t.Errorf("identical version s3: %+v; want no failed pair", sh)
	}

	// Without replay in the desired state, nothing more is replayed.
	s, err := a.lookup("staging", "hello")
	if err != nil {
		t.Fatal(err)
	}
	r := s.replay
	noReplay := desired(recorder("s1", 100))
	noReplay.Environment = "staging"
	apply(t, a, noReplay)
	stopped(t, r)
	before := logged(t, a, "staging", "s1")["GET shadow=1"]
	time.Sleep(300 * time.Millisecond)
	if after := logged(t, a, "staging", "s1")["GET shadow=1"]; after != before || s.replay != nil {
		t.Errorf("s1 got %d replayed requests after replay was turned off", after-before)
	}

	// Removing the service, or closing the agent, stops its replayer too.
	apply(t, a, stagingWith(recorder("s3", 0)))
	r = s.replay
	if err := a.Remove(context.Background(), "staging", "hello"); err != nil {
		t.Fatal(err)
	}
	stopped(t, r)
	apply(t, a, stagingWith(recorder("s3", 0)))
	s, _ = a.lookup("staging", "hello")
	r = s.replay
	closeAgent()
	stopped(t, r)
}

func stopped(t *testing.T, r *replayer) {
	t.Helper()
	if r == nil {
		t.Fatal("no replayer was running")
	}
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the replayer did not stop")
	}
}

func TestReplayValidation(t *testing.T) {
	a := newAgent(t, "")
	for _, c := range []struct {
		shadow target.Shadow
		want   string
	}{
		{target.Shadow{Replay: "test"}, `shadow replay "test" is this environment`},
		{target.Shadow{Replay: "prod", ReplayRate: 20000}, "shadow replay_rate 20000 outside 0–10000 requests per second"},
		{target.Shadow{Replay: "prod", ReplayRate: -1}, "shadow replay_rate -1 outside"},
		{target.Shadow{Replay: "prod", DropHeaders: []string{"X Bad"}}, `shadow drop_headers "X Bad": not a valid header name`},
		{target.Shadow{Replay: "../x"}, `shadow replay "../x": not a valid environment name`},
		{target.Shadow{ReplayRate: 5}, "shadow replay_rate and drop_headers apply only to a replay"},
	} {
		d := desired(hello("v1", 100, 1), hello("v2", 0, 1))
		sh := c.shadow
		sh.Version, sh.Share = "v2", 100
		d.Shadow = &sh
		err := a.Apply(context.Background(), d)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("shadow %+v: %v; want an error saying %q", c.shadow, err, c.want)
		}
	}
	d := desired(hello("v1", 100, 1), hello("v2", 0, 1))
	d.Shadow = &target.Shadow{Version: "v2", Share: 100, Replay: "prod"}
	if err := validate(&d); err != nil || d.Shadow.ReplayRate != 50 {
		t.Errorf("default rate: %v, %v; want 50", err, d.Shadow.ReplayRate)
	}
}
