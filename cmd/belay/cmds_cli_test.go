package main

import (
	"net/http"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	// waitready HOME: wait until a server started in the background wrote
	// its ready-file under HOME and answers /healthz.
	scriptCmds["waitready"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: waitready HOME")
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			r, err := api.ReadReady(api.ReadyFile(ts.MkAbs(args[0])))
			if err == nil {
				var resp *http.Response
				if resp, err = http.Get(r.Server + "/healthz"); err == nil {
					resp.Body.Close()
					return
				}
			}
			if time.Now().After(deadline) {
				ts.Fatalf("no server ready under %s: %v", args[0], err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
