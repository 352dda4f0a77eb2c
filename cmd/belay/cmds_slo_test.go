package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["promtool"] = cmdPromtool
	scriptCmds["waitslo"] = cmdWaitSLO
}

// promtool ARGS...: run the promtool that ships beside $PROMETHEUS_BIN (or
// $BELAY_TEST_PROMTOOL_BIN); missing, it fails the script.
func cmdPromtool(ts *testscript.TestScript, neg bool, args []string) {
	bin := os.Getenv("BELAY_TEST_PROMTOOL_BIN")
	if bin == "" && ts.Getenv("PROMETHEUS_BIN") != "" {
		bin = filepath.Join(filepath.Dir(ts.Getenv("PROMETHEUS_BIN")), "promtool")
	}
	if _, err := os.Stat(bin); bin == "" || err != nil {
		ts.Fatalf("promtool not found beside $PROMETHEUS_BIN (%s) nor in $BELAY_TEST_PROMTOOL_BIN; the prometheus package ships it, scripts/test exports it", ts.Getenv("PROMETHEUS_BIN"))
	}
	err := ts.Exec(bin, args...)
	if neg != (err != nil) {
		ts.Fatalf("promtool %v: %v", args, err)
	}
}

// waitslo SERVICE ENV STATUS: wait (≤ 60 s) until `belay slo --env ENV`
// reports STATUS for SERVICE, with requests counted.
func cmdWaitSLO(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: waitslo SERVICE ENV STATUS")
	}
	var last api.SLOStatus
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if ts.Exec("belay", "slo", "--env", args[1], "-o", "json") != nil {
			continue
		}
		var rep api.SLOReport
		if json.Unmarshal([]byte(ts.ReadFile("stdout")), &rep) != nil {
			continue
		}
		for _, s := range rep.SLOs {
			if s.Service == args[0] && s.Environment == args[1] {
				last = s
				if s.Status == args[2] && s.Requests > 0 {
					return
				}
			}
		}
	}
	ts.Fatalf("waitslo: %s in %s is not %s within 60 s; last %+v", args[0], args[1], args[2], last)
}
