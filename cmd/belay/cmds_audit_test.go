package main

import (
	"database/sql"

	"github.com/rogpeppe/go-internal/testscript"
	_ "modernc.org/sqlite" // the driver the SQLite store uses
)

// sqlexec DB SQL... runs statements on a SQLite state file behind belay's
// back, as someone with the file could: the tamper tests' hand.
func init() {
	scriptCmds["sqlexec"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) < 2 {
			ts.Fatalf("usage: sqlexec DB SQL...")
		}
		db, err := sql.Open("sqlite", "file:"+ts.MkAbs(args[0])+"?_pragma=busy_timeout(5000)")
		ts.Check(err)
		defer db.Close()
		for _, q := range args[1:] {
			_, err := db.Exec(q)
			ts.Check(err)
		}
	}
}
