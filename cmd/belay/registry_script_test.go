package main

import (
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/belay-dev/belay/internal/testenv"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestRegistryScripts runs the scripts that need the real OCI registry;
// each gets a fresh repository in it as $STORE.
func TestRegistryScripts(t *testing.T) {
	host := testenv.Registry(t)
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/registry",
		RequireExplicitExec: true,
		Cmds:                scriptCmds,
		Setup: func(env *testscript.Env) error {
			env.Setenv("BELAY_HOME", "")
			env.Setenv("BELAY_STATE", "")
			b := make([]byte, 6)
			_, _ = rand.Read(b)
			env.Setenv("STORE", "oci://"+host+"/belay-script/"+hex.EncodeToString(b))
			return nil
		},
	})
}
