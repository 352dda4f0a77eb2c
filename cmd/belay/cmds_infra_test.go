package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["infraservers"] = cmdInfraServers
	scriptCmds["pgexec"] = cmdPgExec
	scriptCmds["redisdo"] = cmdRedisDo
}

// infraservers: the real PostgreSQL and Redis scripts/test starts
// (BELAY_TEST_POSTGRES, BELAY_TEST_REDIS) as $PG_ADMIN_URL and
// $REDIS_ADMIN_URL, and $SVC, a service name unique to this script, whose
// databases, roles and ACL users are removed when the script ends. Missing
// servers fail the script.
func cmdInfraServers(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: infraservers")
	}
	pg, rd := os.Getenv("BELAY_TEST_POSTGRES"), os.Getenv("BELAY_TEST_REDIS")
	if pg == "" || rd == "" {
		// testscript gives a custom command no way to skip: the script fails, saying how to get them.
		ts.Fatalf("PostgreSQL or Redis not available: BELAY_TEST_POSTGRES / BELAY_TEST_REDIS not set; run ./scripts/test, which starts them")
	}
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	svc := "i" + hex.EncodeToString(b)
	ts.Setenv("PG_ADMIN_URL", pg)
	ts.Setenv("REDIS_ADMIN_URL", rd)
	ts.Setenv("SVC", svc)
	ts.Defer(func() {
		ctx := context.Background()
		if c, err := pgx.Connect(ctx, pg); err == nil {
			// the service's databases and those restores made beside them
			rows, _ := c.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE $1`, svc+"%")
			dbs, _ := pgx.CollectRows(rows, pgx.RowTo[string])
			for _, db := range dbs {
				_, _ = c.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE)`, db))
			}
			for _, env := range []string{"staging", "production"} {
				_, _ = c.Exec(ctx, fmt.Sprintf(`DROP ROLE IF EXISTS %q`, svc+"_"+env+"_app"))
				_, _ = c.Exec(ctx, fmt.Sprintf(`DROP ROLE IF EXISTS %q`, svc+"_"+env+"_owner"))
			}
			_ = c.Close(ctx)
		}
		if opt, err := goredis.ParseURL(rd); err == nil {
			c := goredis.NewClient(opt)
			_ = c.Do(ctx, "ACL", "DELUSER", svc+":staging", svc+":production").Err()
			_ = c.Close()
		}
	})
}

// pgexec [-d DATABASE] SQL: run SQL on $PG_ADMIN_URL (in DATABASE), as
// an operator changing something by hand.
func cmdPgExec(ts *testscript.TestScript, neg bool, args []string) {
	db := ""
	if len(args) == 3 && args[0] == "-d" {
		db, args = args[1], args[2:]
	}
	if len(args) != 1 {
		ts.Fatalf("usage: pgexec [-d DATABASE] SQL")
	}
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(ts.Getenv("PG_ADMIN_URL"))
	ts.Check(err)
	if db != "" {
		cfg.Database = db
	}
	c, err := pgx.ConnectConfig(ctx, cfg)
	ts.Check(err)
	defer c.Close(ctx)
	_, err = c.Exec(ctx, args[0])
	if (err != nil) != neg {
		ts.Fatalf("pgexec %q: %v", args[0], err)
	}
}

// redisdo ARG...: run a command on $REDIS_ADMIN_URL.
func cmdRedisDo(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: redisdo ARG...")
	}
	opt, err := goredis.ParseURL(ts.Getenv("REDIS_ADMIN_URL"))
	ts.Check(err)
	c := goredis.NewClient(opt)
	defer c.Close()
	as := make([]any, len(args))
	for i, a := range args {
		as[i] = a
	}
	err = c.Do(context.Background(), as...).Err()
	if (err != nil) != neg {
		ts.Fatalf("redisdo %v: %v", args, err)
	}
}
