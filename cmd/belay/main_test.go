package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/belay-dev/belay/internal/cli"
	"github.com/belay-dev/belay/internal/testenv/kube"
	"github.com/rogpeppe/go-internal/testscript"
)

// stopsKube runs the tests, then stops the Kubernetes control plane if
// TestKubeScripts started one.
type stopsKube struct{ m *testing.M }

func (s stopsKube) Run() int { return kube.Main(s.m) }

func TestMain(m *testing.M) {
	testscript.Main(stopsKube{m}, map[string]func(){
		"belay": func() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// scriptCmds are custom testscript commands; files cmds_*_test.go add theirs in init.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Cmds:                scriptCmds,
		Setup: func(env *testscript.Env) error {
			env.Setenv("BELAY_HOME", "")
			env.Setenv("BELAY_STATE", "")
			// REPO lets scripts read the repository's own files (examples).
			repo, err := filepath.Abs(filepath.Join("..", ".."))
			env.Setenv("REPO", repo)
			return err
		},
	})
}
