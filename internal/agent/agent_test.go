package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/agent/agenttest"
	"github.com/belay-dev/belay/internal/loadgen"
	"github.com/belay-dev/belay/internal/target"
)

func newAgent(t *testing.T, dir string) *Agent {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	a, err := New(Config{StateDir: dir, Opener: agenttest.HelloOpener{}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(true) })
	return a
}

func hello(name string, weight float64, instances int, env ...string) target.Version {
	e := map[string]string{"VERSION": name}
	for i := 0; i+1 < len(env); i += 2 {
		e[env[i]] = env[i+1]
	}
	return target.Version{
		Version: name, Artifact: "hello:" + name, Instances: instances, Weight: weight,
		Run:    target.Run{Command: "hello", Env: e, GracePeriod: 3 * time.Second},
		Health: target.Health{HTTPPath: "/healthz", Interval: 100 * time.Millisecond, Timeout: time.Second, UnhealthyThreshold: 2, HealthTimeout: 15 * time.Second},
	}
}

func desired(versions ...target.Version) target.Desired {
	return target.Desired{Environment: "test", Service: "hello", Listen: "127.0.0.1:0", Versions: versions, VersionHeader: "X-Belay-Version", DrainTimeout: 5 * time.Second}
}

func apply(t *testing.T, a *Agent, d target.Desired) string {
	t.Helper()
	if err := a.Apply(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	o, err := a.Observe(context.Background(), d.Environment, d.Service)
	if err != nil {
		t.Fatal(err)
	}
	return "http://" + o.Listen
}

// served sends one GET and returns the version that answered, or an error
// for anything but a 200.
func served(c *http.Client, url string, hdr ...string) (string, error) {
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return resp.Header.Get("X-Belay-Version"), nil
}

func TestSplitAccuracy(t *testing.T) {
	a := newAgent(t, "")
	url := apply(t, a, desired(hello("v1", 90, 2), hello("v2", 10, 1)))
	n := map[string]int{}
	for range 10000 {
		v, err := served(http.DefaultClient, url)
		if err != nil {
			t.Fatal(err)
		}
		n[v]++
	}
	if share := float64(n["v2"]) / 10000; share < 0.09 || share > 0.11 {
		t.Fatalf("canary share %.4f at 10%% (%v)", share, n)
	}
	// The client has its answer before the proxy records the latency; a
	// request leaves flight only after its latency is recorded.
	var cs []target.Counters
	waitFor(t, "requests out of flight", func() bool {
		var err error
		if cs, err = a.Counters(context.Background(), "test", "hello"); err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.InFlight != 0 {
				return false
			}
		}
		return true
	})
	for _, c := range cs {
		var hist int64
		for _, x := range c.LatencyCounts {
			hist += x
		}
		if c.Requests != int64(n[c.Version]) || hist != c.Requests || c.Errors != 0 || len(c.LatencyCounts) != len(c.LatencyBounds)+1 {
			t.Fatalf("counters %s: requests %d hist %d errors %d; served %d", c.Version, c.Requests, hist, c.Errors, n[c.Version])
		}
	}
}

func TestStickyByHeaderAndCookie(t *testing.T) {
	a := newAgent(t, "")
	d := desired(hello("v1", 50, 1), hello("v2", 50, 1))
	d.Sticky = &target.Sticky{Header: "X-User", Cookie: "belay_sticky"}
	url := apply(t, a, d)
	seen := map[string]bool{}
	for u := range 30 {
		first, err := served(http.DefaultClient, url, "X-User", fmt.Sprint("u", u))
		if err != nil {
			t.Fatal(err)
		}
		seen[first] = true
		for range 5 {
			if v, _ := served(http.DefaultClient, url, "X-User", fmt.Sprint("u", u)); v != first {
				t.Fatalf("user u%d moved from %s to %s", u, first, v)
			}
		}
	}
	if len(seen) != 2 {
		t.Fatalf("30 users all on %v at 50/50", seen)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(resp.Cookies()) != 1 || resp.Cookies()[0].Name != "belay_sticky" {
		t.Fatalf("sticky cookie not set: %v", resp.Header)
	}
}

// startLoad sends requests from n senders back to back until finish.
func startLoad(url string, n int) *loadgen.Load {
	return loadgen.Start(url, loadgen.Options{Workers: n, Header: "X-Belay-Version"})
}

// finish stops the load and fails the test if any request failed.
func finish(t *testing.T, l *loadgen.Load) {
	t.Helper()
	got := l.Stop()
	if len(got.Failures) > 0 || got.OK == 0 {
		t.Fatalf("%d requests failed of %d: %v", len(got.Failures), got.Sent, got.Failures[:min(len(got.Failures), 5)])
	}
	t.Logf("%d requests, none failed", got.Sent)
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func observed(t *testing.T, a *Agent) target.ObservedVersion {
	t.Helper()
	o, err := a.Observe(context.Background(), "test", "hello")
	if err != nil {
		t.Fatal(err)
	}
	return o.Versions[0]
}

func instanceOf(a *Agent, i int) *instance {
	s, _ := a.lookup("test", "hello")
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.versions[0].instances[i]
}

func TestUnhealthyInstanceEjectedAndRestarted(t *testing.T) {
	a := newAgent(t, "")
	url := apply(t, a, desired(hello("v1", 100, 2)))
	l := startLoad(url, 4)
	in := instanceOf(a, 0)
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/admin/health?status=fail", in.port), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitFor(t, "restart of the unhealthy instance", func() bool { return observed(t, a).Restarts >= 1 })
	waitFor(t, "both instances ready again", func() bool { return observed(t, a).Ready == 2 })
	finish(t, l)
	if f := observed(t, a).HealthFailures; f < 2 {
		t.Fatalf("health failures %d, want ≥ threshold 2", f)
	}
}

func TestCrashedInstanceRestarted(t *testing.T) {
	a := newAgent(t, "")
	v := hello("v1", 100, 2)
	v.Health.Interval = 2 * time.Second // only the exit itself can eject it quickly
	url := apply(t, a, desired(v))
	l := startLoad(url, 4)
	time.Sleep(100 * time.Millisecond)
	in := instanceOf(a, 1)
	pid := in.proc.Pid()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(500 * time.Millisecond)
	for observed(t, a).Ready != 1 {
		if time.Now().After(deadline) {
			t.Fatal("crashed instance still in the pool 500ms after its exit")
		}
		time.Sleep(5 * time.Millisecond)
	}
	waitFor(t, "restart after kill -9", func() bool { return in.proc.Pid() != 0 && in.proc.Pid() != pid })
	waitFor(t, "both ready", func() bool { return observed(t, a).Ready == 2 })
	time.Sleep(200 * time.Millisecond)
	finish(t, l)
}

func TestDrainLetsSlowRequestFinish(t *testing.T) {
	a := newAgent(t, "")
	url := apply(t, a, desired(hello("v1", 100, 1, "LATENCY", "1500ms")))
	got := make(chan error, 1)
	go func() {
		v, err := served(http.DefaultClient, url)
		if err == nil && v != "v1" {
			err = fmt.Errorf("served by %s", v)
		}
		got <- err
	}()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	apply(t, a, desired(hello("v2", 100, 1)))
	if err := <-got; err != nil {
		t.Fatalf("in-flight request during drain: %v", err)
	}
	if time.Since(start) < time.Second {
		t.Fatalf("apply returned after %v, before the in-flight request could finish", time.Since(start))
	}
	if v, err := served(http.DefaultClient, url); err != nil || v != "v2" {
		t.Fatalf("after the change: %q %v", v, err)
	}
}

func TestZeroFailedRequestsOver20Rollbacks(t *testing.T) {
	if testing.Short() {
		t.Skip("20 deploy cycles with real processes")
	}
	a := newAgent(t, "")
	url := apply(t, a, desired(hello("v1", 100, 2)))
	l := startLoad(url, 4)
	for i := range 20 {
		canary := fmt.Sprintf("c%d", i)
		for _, w := range []float64{0, 10, 50} { // deploy, then shift
			apply(t, a, desired(hello("v1", 100-w, 2), hello(canary, w, 1)))
		}
		apply(t, a, desired(hello("v1", 100, 2))) // roll back
	}
	finish(t, l)
}

func TestHealthChangeAppliesWithoutRestart(t *testing.T) {
	a := newAgent(t, "")
	v := hello("v1", 100, 1)
	apply(t, a, desired(v))
	pid := instanceOf(a, 0).proc.Pid()
	v.Health.ExpectStatus = http.StatusNoContent // hello answers 200: every check now fails
	apply(t, a, desired(v))
	if got := instanceOf(a, 0).proc.Pid(); got != pid {
		t.Fatalf("a health-check change restarted the instance (pid %d → %d)", pid, got)
	}
	waitFor(t, "failures under the new check", func() bool { return observed(t, a).HealthFailures >= 2 })
}

// A desired state with no versions stops every instance and routes
// nothing: the listener answers 503 saying so. Applying it again changes
// nothing, and a restarted agent restores it as it was.
func TestApplyNoVersionsStopsEverything(t *testing.T) {
	dir := t.TempDir()
	a := newAgent(t, dir)
	url := apply(t, a, desired(hello("v1", 100, 2)))
	pids := pidsOf(t, a)
	apply(t, a, desired())
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			t.Fatalf("instance pid %d still runs", pid)
		}
	}
	wantNone(t, a, url)
	apply(t, a, desired()) // idempotent
	wantNone(t, a, url)

	a.Close(true)
	restarted := newAgent(t, dir)
	if err := restarted.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantNone(t, restarted, url)
	if v, err := served(http.DefaultClient, apply(t, restarted, desired(hello("v2", 100, 1)))); err != nil || v != "v2" {
		t.Fatalf("deploying again after none: %q %v", v, err)
	}
}

// The rollback of a failed first release: there is no earlier version to
// go back to, so it applies none.
func TestNoVersionsAfterFailedFirstRelease(t *testing.T) {
	a := newAgent(t, "")
	sick := hello("v1", 100, 1, "HEALTH", "fail")
	sick.Health.HealthTimeout = time.Second
	if err := a.Apply(context.Background(), desired(sick)); !errors.Is(err, target.ErrUnhealthy) {
		t.Fatalf("want ErrUnhealthy, got %v", err)
	}
	wantNone(t, a, apply(t, a, desired()))
}

func wantNone(t *testing.T, a *Agent, url string) {
	t.Helper()
	o, err := a.Observe(context.Background(), "test", "hello")
	if err != nil || len(o.Versions) != 0 || "http://"+o.Listen != url {
		t.Fatalf("observed %+v %v; want no versions on %s", o, err, url)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || string(body) != "no version of this service is deployed\n" {
		t.Fatalf("answer %d %q", resp.StatusCode, body)
	}
}
