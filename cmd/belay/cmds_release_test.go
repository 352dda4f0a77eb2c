package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/server"
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
		l, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		addr := l.Addr().String()
		l.Close()
		b = strings.ReplaceAll(b, old, addr)
		ts.Setenv(name, addr)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(b), 0o644))
}

// loadgen URL RPS: send requests until the script ends; `loadgen -check`
// fails the script if any request failed other than 5xx answers from the
// versions listed after it (a bad release's own errors), or never connected.
type loadState struct {
	sync.Mutex
	failures []string
	sent     atomic.Int64
	start    time.Time
}

// loads are per script: scripts run in parallel in this one process.
var loads = struct {
	sync.Mutex
	m map[*testscript.TestScript]*loadState
}{m: map[*testscript.TestScript]*loadState{}}

func loadOf(ts *testscript.TestScript) *loadState {
	loads.Lock()
	defer loads.Unlock()
	l, ok := loads.m[ts]
	if !ok {
		l = &loadState{start: time.Now()}
		loads.m[ts] = l
		ts.Defer(func() { loads.Lock(); delete(loads.m, ts); loads.Unlock() })
	}
	return l
}

func cmdLoadgen(ts *testscript.TestScript, neg bool, args []string) {
	load := loadOf(ts)
	if len(args) >= 1 && args[0] == "-check" {
		allowed := args[1:]
		load.Lock()
		defer load.Unlock()
		var bad []string
		for _, f := range load.failures {
			ok := false
			for _, v := range allowed {
				ok = ok || strings.HasPrefix(f, v+" ")
			}
			if !ok {
				bad = append(bad, f)
			}
		}
		ts.Logf("loadgen: %d requests sent, %d failed, %d not allowed", load.sent.Load(), len(load.failures), len(bad))
		if len(bad) > 0 {
			for _, log := range []string{".belay/agent.log", ".belay/server.log"} {
				if b, err := os.ReadFile(ts.MkAbs(log)); err == nil {
					ts.Logf("last lines of %s:\n%s", log, tail(string(b), 40))
				}
			}
			ts.Fatalf("requests failed: %s", strings.Join(bad[:min(len(bad), 10)], "; "))
		}
		return
	}
	if len(args) != 2 {
		ts.Fatalf("usage: loadgen URL RPS | loadgen -check [VERSION...]")
	}
	var rps int
	fmt.Sscan(args[1], &rps)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	ts.Defer(func() { cancel(); <-done })
	go func() {
		defer close(done)
		client := &http.Client{Timeout: 10 * time.Second}
		t := time.NewTicker(time.Second / time.Duration(rps))
		defer t.Stop()
		var wg sync.WaitGroup
		defer wg.Wait()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			wg.Add(1)
			go func() { defer wg.Done(); load.one(ctx, client, args[0]) }()
		}
	}()
}

func (load *loadState) one(ctx context.Context, c *http.Client, url string) {
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	load.sent.Add(1)
	resp, err := c.Do(req)
	var fail string
	switch {
	case err != nil && ctx.Err() == nil:
		fail = "- " + err.Error()
	case err == nil:
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			fail = fmt.Sprintf("%s %d", resp.Header.Get(api.VersionHeader), resp.StatusCode)
		}
	}
	if fail != "" {
		fail += fmt.Sprintf(" (at %.2fs)", time.Since(load.start).Seconds())
		load.Lock()
		load.failures = append(load.failures, fail)
		load.Unlock()
	}
}

// stopatend HOME: when the script ends, however it ends, stop the server
// and agent that `belay up` started with state in HOME.
func cmdStopAtEnd(ts *testscript.TestScript, neg bool, args []string) {
	home := ts.MkAbs(args[0])
	ts.Defer(func() {
		r, err := server.ReadReady(server.ReadyFile(home))
		if err != nil {
			return
		}
		// SIGTERM first: the agent of `belay up` stops its instances on exit.
		for _, pid := range []int{r.ServerPID, r.AgentPID} {
			if pid <= 0 {
				continue
			}
			_ = syscall.Kill(pid, syscall.SIGTERM)
			for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
				time.Sleep(100 * time.Millisecond)
			}
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
