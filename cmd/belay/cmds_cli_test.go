package main

import (
	"net/http"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/apitls"
	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	// waitready HOME: wait until a server started in the background wrote
	// its ready-file under HOME and answers /healthz (over https, trusting
	// the certificate the ready-file names).
	scriptCmds["waitready"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: waitready HOME")
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			r, err := api.ReadReady(api.ReadyFile(ts.MkAbs(args[0])))
			if err == nil {
				var resp *http.Response
				if resp, err = readyClient(r).Get(r.Server + "/healthz"); err == nil {
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

// readyClient is a client of the server of a ready-file: over https, it
// trusts only the certificate the ready-file names, as the CLI does.
func readyClient(r api.Ready) *http.Client {
	if r.Cert == "" {
		return http.DefaultClient
	}
	conf, _, err := apitls.ClientConfig(r.Cert)
	if err != nil {
		return http.DefaultClient // and /healthz fails, saying why
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: conf}}
}
