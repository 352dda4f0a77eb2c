package agent

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/agent/agenttest"
)

// An agent that goes away without stopping its instances (as after kill -9)
// is replaced by one that restores routing and adopts the same processes.
func TestRestoreAdoptsRunningInstances(t *testing.T) {
	dir := t.TempDir()
	first, err := New(Config{StateDir: dir, Opener: agenttest.HelloOpener{}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	url := apply(t, first, desired(hello("v1", 80, 1), hello("v2", 20, 1)))
	pids := map[int]bool{}
	for _, p := range pidsOf(t, first) {
		pids[p] = true
	}
	b, err := os.ReadFile(filepath.Join(dir, "desired.json"))
	if err != nil || !strings.Contains(string(b), `"weight": 20`) {
		t.Fatalf("state file: %v\n%s", err, b)
	}
	first.Close(false)
	if _, err := served(http.DefaultClient, url); err == nil {
		t.Fatal("proxy still answering after Close")
	}

	second := newAgent(t, dir)
	if err := second.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "restored routing", func() bool { v, err := served(http.DefaultClient, url); return err == nil && v != "" })
	for _, p := range pidsOf(t, second) {
		if !pids[p] {
			t.Fatalf("pid %d was started anew; want the running instances %v adopted", p, pids)
		}
	}
	o, _ := second.Observe(context.Background(), "test", "hello")
	if len(o.Versions) != 2 || o.Versions[1].Weight != 20 {
		t.Fatalf("restored %+v", o)
	}
}

// Instances that were gone at a restore start anew on new ports; those
// ports must be recorded, or the agent after that adopts the processes at
// their old ports and never finds them healthy.
func TestRestoreRecordsPortsOfInstancesStartedAnew(t *testing.T) {
	dir := t.TempDir()
	first := newAgent(t, dir)
	url := apply(t, first, desired(hello("v1", 100, 1)))
	first.Close(true) // the instances are stopped: the next agent starts them anew

	second := newAgent(t, dir)
	if err := second.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "second agent serving", func() bool { v, err := served(http.DefaultClient, url); return err == nil && v != "" })
	started := pidsOf(t, second)
	second.Close(false)

	third := newAgent(t, dir)
	if err := third.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := pidsOf(t, third); len(got) != 1 || got[0] != started[0] {
		t.Fatalf("third agent runs %v, want %v adopted", got, started)
	}
	waitFor(t, "adopted instance healthy", func() bool { v, err := served(http.DefaultClient, url); return err == nil && v != "" })
}

func pidsOf(t *testing.T, a *Agent) []int {
	s, err := a.lookup("test", "hello")
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for _, v := range s.versions {
		for _, in := range v.instances {
			out = append(out, in.proc.Pid())
		}
	}
	return out
}

func TestAPIMetricsAndLogs(t *testing.T) {
	a := newAgent(t, "")
	url := apply(t, a, desired(hello("v1", 100, 1)))
	if _, err := served(http.DefaultClient, url); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "a.sock")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := a.ServeUnix(ctx, sock); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ServeUnix(ctx, sock); err == nil || !strings.Contains(err.Error(), "another agent") {
		t.Fatalf("second agent on the same socket: %v", err)
	}
	l, err := a.ServeTCP(ctx, "127.0.0.1:0", "s3cret", nil)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	body := func(path, token string) (int, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := body("/v1/services/test/hello", "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", code)
	}
	code, obs := body("/v1/services/test/hello", "s3cret")
	if code != 200 || !strings.Contains(obs, `"ready":1`) {
		t.Fatalf("observe: %d %s", code, obs)
	}
	code, missing := body("/v1/services/test/nope", "s3cret")
	var apiErr APIError
	_ = json.Unmarshal([]byte(missing), &apiErr)
	if code != 404 || apiErr.Kind != "not_found" {
		t.Fatalf("unknown service: %d %s", code, missing)
	}
	// The proxy records a request's latency just after the answer is sent,
	// so the served request shows in /metrics a moment after the client has it.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, metrics := body("/metrics", "")
		missing := ""
		for _, want := range []string{
			`belay_requests_total{code_class="2xx",environment="test",service="hello",version="v1"} 1`,
			`belay_request_duration_seconds_count{environment="test",service="hello",version="v1"} 1`,
			`belay_instances_ready{environment="test",service="hello",version="v1"} 1`,
		} {
			if !strings.Contains(metrics, want) {
				missing = want
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics lack %s", missing)
		}
	}
	_, logs := body("/v1/services/test/hello/logs?version=v1", "s3cret")
	if !strings.Contains(logs, "v1/0 | ") || !strings.Contains(logs, "hello v1 listening on") {
		t.Fatalf("logs:\n%s", logs)
	}
}
