package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/testenv"
	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["freeport"] = cmdFreePort
	scriptCmds["prometheus"] = cmdPrometheus
}

// freeport VAR: set VAR to a free loopback host:port.
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	addr, err := pickPort()
	ts.Check(err)
	ts.Setenv(args[0], addr)
}

// prometheus start TARGET ADDR [TOKENFILE]: run a real Prometheus on ADDR
// scraping TARGET's /metrics every second (job "agent"; with TOKENFILE, job
// "server", sending the file's token as a bearer token, as belay's server
// wants), until `prometheus stop` (SIGKILL, as a crash) or the script's end.
// $PROMETHEUS is its URL.
// With $PROMETHEUS_RULES set, it loads that rule file, evaluated every second.
// prometheus start-sd AGENT ADDR TOKENFILE: the same, scraping the agent's
// /metrics and, through the agent's service discovery (GET /v1/sd with the
// agent's bearer token, refreshed every second), the /metrics of every
// instance it runs, labelled service, version and environment (job
// "instances").
// prometheus has QUERY: wait (≤ 20 s) until QUERY returns a series.
// Scripts using it live in testdata/prometheus (TestPrometheusScripts).
var proms = struct {
	sync.Mutex
	m map[*testscript.TestScript]*exec.Cmd
}{m: map[*testscript.TestScript]*exec.Cmd{}}

// TestPrometheusScripts runs the scripts that need a real Prometheus, whose
// binary they get as $PROMETHEUS_BIN (skipped without one, failed under CI=true).
func TestPrometheusScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real releases with a real Prometheus")
	}
	bin := testenv.PrometheusBin(t)
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/prometheus",
		RequireExplicitExec: true,
		Cmds:                scriptCmds,
		Setup: func(env *testscript.Env) error {
			env.Setenv("BELAY_HOME", "")
			env.Setenv("BELAY_STATE", "")
			env.Setenv("PROMETHEUS_BIN", bin)
			return nil
		},
	})
}

func cmdPrometheus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: prometheus start TARGET ADDR [TOKENFILE] | prometheus start-sd AGENT ADDR TOKENFILE | prometheus has QUERY | prometheus stop")
	}
	switch {
	case args[0] == "start" && (len(args) == 3 || len(args) == 4):
		promStart(ts, args[1], args[2], "", args[3:]...)
	case args[0] == "start-sd" && len(args) == 4:
		promStart(ts, args[1], args[2], args[3])
	case args[0] == "has" && len(args) == 2:
		promHas(ts, args[1])
	case args[0] == "stop" && len(args) == 1:
		proms.Lock()
		c := proms.m[ts]
		delete(proms.m, ts)
		proms.Unlock()
		if c == nil {
			ts.Fatalf("prometheus stop: none running")
		}
		_ = c.Process.Kill()
		_ = c.Wait()
	default:
		ts.Fatalf("usage: prometheus start TARGET ADDR [TOKENFILE] | prometheus start-sd AGENT ADDR TOKENFILE | prometheus has QUERY | prometheus stop")
	}
}

func promStart(ts *testscript.TestScript, target, addr, sdToken string, tokenFile ...string) {
	bin := ts.Getenv("PROMETHEUS_BIN")
	if bin == "" {
		ts.Fatalf("prometheus start: $PROMETHEUS_BIN is unset; scripts using Prometheus live in testdata/prometheus")
	}
	dir, err := os.MkdirTemp(ts.MkAbs("."), "prometheus-")
	ts.Check(err)
	job, auth := "agent", ""
	if len(tokenFile) > 0 {
		job, auth = "server", fmt.Sprintf("    authorization: {type: Bearer, credentials_file: '%s'}\n", ts.MkAbs(tokenFile[0]))
	}
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: %s\n    scrape_interval: 1s\n%s    static_configs:\n      - targets: ['%s']\n", job, auth, target)
	if sdToken != "" {
		cfg += fmt.Sprintf("  - job_name: instances\n    scrape_interval: 1s\n    http_sd_configs:\n      - url: http://%s/v1/sd\n        refresh_interval: 1s\n        authorization: {type: Bearer, credentials_file: '%s'}\n", target, ts.MkAbs(sdToken))
	}
	if rules := ts.Getenv("PROMETHEUS_RULES"); rules != "" { // rule files to load, evaluated every second
		cfg = strings.Replace(cfg, "global:\n", "global:\n  evaluation_interval: 1s\n", 1) + fmt.Sprintf("rule_files: ['%s']\n", ts.MkAbs(rules))
	}
	ts.Check(os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600))
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	ts.Check(err)
	defer logf.Close()
	c := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	c.Stdout, c.Stderr = logf, logf
	ts.Check(c.Start())
	proms.Lock()
	proms.m[ts] = c
	proms.Unlock()
	ts.Defer(func() {
		proms.Lock()
		defer proms.Unlock()
		if proms.m[ts] == c {
			_ = c.Process.Kill()
			_ = c.Wait()
			delete(proms.m, ts)
		}
	})
	ts.Setenv("PROMETHEUS", "http://"+addr)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	ts.Fatalf("prometheus on %s not ready after 20 s; see %s", addr, logf.Name())
}

func promHas(ts *testscript.TestScript, query string) {
	base := ts.Getenv("PROMETHEUS")
	var last string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?query="+url.QueryEscape(query), nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = string(b)
			if !strings.Contains(last, `"result":[]`) && strings.Contains(last, `"status":"success"`) {
				cancel()
				return
			}
		}
		cancel()
	}
	ts.Fatalf("prometheus has %s: no series within 20 s; last answer %s", query, last)
}
