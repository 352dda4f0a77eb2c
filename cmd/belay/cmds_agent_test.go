package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/belay-dev/belay/internal/agent/agenttest"
	"github.com/belay-dev/belay/internal/target"
	"github.com/belay-dev/belay/internal/target/local"
	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	// buildhello DIR: put the examples/hello binary (built from source) in DIR.
	scriptCmds["buildhello"] = func(ts *testscript.TestScript, neg bool, args []string) {
		src, err := agenttest.HelloDir()
		ts.Check(err)
		dir := ts.MkAbs(args[0])
		ts.Check(os.MkdirAll(dir, 0o755))
		ts.Check(os.Symlink(filepath.Join(src, "hello"), filepath.Join(dir, "hello")))
	}
	// waitsocket PATH: wait until an agent answers on the socket.
	scriptCmds["waitsocket"] = func(ts *testscript.TestScript, neg bool, args []string) {
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, err := local.Unix(ts.MkAbs(args[0])).Observe(context.Background(), "none", "none")
			if err != nil && !errorsIsAgent(err) {
				return
			}
			if time.Now().After(deadline) {
				ts.Fatalf("no agent on %s: %v", args[0], err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// agentapply SOCKET ENV SERVICE VERSION ARTIFACT_DIR: run one instance of
	// hello as VERSION with all traffic.
	scriptCmds["agentapply"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 5 {
			ts.Fatalf("usage: agentapply SOCKET ENV SERVICE VERSION ARTIFACT_DIR")
		}
		d := target.Desired{Environment: args[1], Service: args[2], Listen: "127.0.0.1:0", Versions: []target.Version{{
			Version: args[3], Artifact: "dir:" + ts.MkAbs(args[4]), Instances: 1, Weight: 100,
			Run:    target.Run{Command: "hello", Env: map[string]string{"VERSION": args[3]}},
			Health: target.Health{HTTPPath: "/healthz", Interval: 100 * time.Millisecond, HealthTimeout: 10 * time.Second},
		}}}
		err := local.Unix(ts.MkAbs(args[0])).Apply(context.Background(), d)
		if neg {
			if err == nil {
				ts.Fatalf("agentapply succeeded unexpectedly")
			}
			return
		}
		ts.Check(err)
	}
}

func errorsIsAgent(err error) bool { return err != nil && errorsIs(err, local.ErrAgent) }

var errorsIs = errors.Is
