package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/loadgen"
	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["freeports"] = cmdFreePorts
	scriptCmds["loadgen"] = cmdLoadgen
	scriptCmds["stopatend"] = cmdStopAtEnd
}

// freeports FILE: give the example's staging and production proxies free
// loopback ports, exported as $STAGING and $PRODUCTION.
func cmdFreePorts(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeports belay.yaml")
	}
	b := ts.ReadFile(args[0])
	for old, name := range map[string]string{"127.0.0.1:18081": "STAGING", "127.0.0.1:18082": "PRODUCTION"} {
		addr, err := pickPort()
		ts.Check(err)
		b = strings.ReplaceAll(b, old, addr)
		ts.Setenv(name, addr)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(b), 0o644))
}

// loadgen URL RPS: send requests until the script ends; `loadgen -check`
// fails the script if any request failed other than 5xx answers from the
// versions listed after it (a bad release's own errors), or never connected;
// `loadgen -stop` ends the script's load and forgets it, so that another
// can start. Loads are per script: scripts run in parallel in this one process.
var loads = struct {
	sync.Mutex
	m map[*testscript.TestScript]*loadgen.Load
}{m: map[*testscript.TestScript]*loadgen.Load{}}

func cmdLoadgen(ts *testscript.TestScript, neg bool, args []string) {
	loads.Lock()
	load := loads.m[ts]
	loads.Unlock()
	if len(args) >= 1 && args[0] == "-check" {
		var got loadgen.Tally
		if load != nil {
			got = load.Tally()
		}
		bad, _ := got.Except(args[1:]...)
		ts.Logf("loadgen: %d requests sent, %d failed, %d not allowed", got.Sent, len(got.Failures), len(bad))
		if len(bad) > 0 {
			for _, log := range []string{".belay/agent.log", ".belay/server.log"} {
				if b, err := os.ReadFile(ts.MkAbs(log)); err == nil {
					ts.Logf("last lines of %s:\n%s", log, tail(string(b), 40))
				}
			}
			var first []string
			for _, f := range bad[:min(len(bad), 10)] {
				first = append(first, f.String())
			}
			ts.Fatalf("requests failed: %s", strings.Join(first, "; "))
		}
		return
	}
	if len(args) == 1 && args[0] == "-stop" && load != nil {
		got := load.Stop()
		ts.Logf("loadgen: stopped after %d requests, %d failed", got.Sent, len(got.Failures))
		loads.Lock()
		delete(loads.m, ts)
		loads.Unlock()
		return
	}
	if len(args) != 2 || load != nil {
		ts.Fatalf("usage: loadgen URL RPS (one at a time) | loadgen -stop | loadgen -check [VERSION...]")
	}
	var rps int
	fmt.Sscan(args[1], &rps)
	load = loadgen.Start(args[0], loadgen.Options{Rate: float64(rps), Header: api.VersionHeader, Client: &http.Client{Timeout: 10 * time.Second}})
	loads.Lock()
	loads.m[ts] = load
	loads.Unlock()
	ts.Defer(func() {
		load.Stop()
		loads.Lock()
		delete(loads.m, ts)
		loads.Unlock()
	})
}

// stopatend HOME: when the script ends, however it ends, stop what
// `belay up` started with state in HOME: server, agent and its instances.
func cmdStopAtEnd(ts *testscript.TestScript, neg bool, args []string) {
	home := ts.MkAbs(args[0])
	ts.Defer(func() {
		for _, p := range belayProcs(home) {
			_ = syscall.Kill(p.pid, syscall.SIGTERM) // the agent of `belay up` stops its instances
		}
		for i := 0; i < 100 && len(belayProcs(home)) > 0; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		for _, p := range belayProcs(home) {
			_ = syscall.Kill(-p.pid, syscall.SIGKILL) // instances lead their process groups
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
	})
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
