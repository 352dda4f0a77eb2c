package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/infra/postgres"
	"github.com/belay-dev/belay/internal/infra/provider"
	"github.com/belay-dev/belay/internal/infra/providertest"
	"github.com/belay-dev/belay/internal/testenv"
	"github.com/jackc/pgx/v5"
)

// TestProvider runs the shared provider suite against the real PostgreSQL
// scripts/test starts, with roles and a database named for this run.
func TestProvider(t *testing.T) {
	url := testenv.Postgres(t)
	p, err := postgres.New(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	n := fmt.Sprintf("pt%d", time.Now().UnixNano())
	owner := provider.Resource{Kind: postgres.KindRole, Name: n + "_owner", Spec: provider.Fields{"login": "false", "connection_limit": "-1"}}
	app := provider.Resource{Kind: postgres.KindRole, Name: n + "_app", Spec: provider.Fields{"login": "true", "connection_limit": "5"}}
	db := provider.Resource{Kind: postgres.KindDatabase, Name: n, Spec: provider.Fields{
		"owner": owner.Name, "connection_limit": "20", "extensions": "", "app_role": app.Name}}
	app2, db2 := app, db
	app2.Spec = provider.Fields{"login": "true", "connection_limit": "8"}
	db2.Spec = provider.Fields{"owner": owner.Name, "connection_limit": "30", "extensions": "citext,pg_trgm", "app_role": app.Name}
	providertest.Run(t, p, providertest.Case{
		Resources: []provider.Resource{owner, app, db},
		Changed:   []provider.Resource{owner, app2, db2},
		Tamper: func(ctx context.Context, t *testing.T) (int, string) {
			c, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(ctx)
			if _, err := c.Exec(ctx, "ALTER ROLE "+pgx.Identifier{app.Name}.Sanitize()+" CONNECTION LIMIT 3"); err != nil {
				t.Fatal(err)
			}
			return 1, "connection_limit"
		},
	})
}

// TestAppRoleLeastPrivilege: the application role can read and write the
// owner's tables but not create tables or reach another database.
func TestAppRoleLeastPrivilege(t *testing.T) {
	url := testenv.Postgres(t)
	ctx := t.Context()
	p, err := postgres.New(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	n := fmt.Sprintf("lp%d", time.Now().UnixNano())
	rs := []provider.Resource{
		{Kind: postgres.KindRole, Name: n + "_owner", Spec: provider.Fields{"login": "true", "connection_limit": "-1"}},
		{Kind: postgres.KindRole, Name: n + "_app", Spec: provider.Fields{"login": "true", "connection_limit": "5"}},
		{Kind: postgres.KindDatabase, Name: n, Spec: provider.Fields{"owner": n + "_owner", "connection_limit": "-1", "app_role": n + "_app"}},
		{Kind: postgres.KindDatabase, Name: n + "_other", Spec: provider.Fields{"owner": n + "_owner", "connection_limit": "-1"}},
	}
	for _, r := range rs {
		if err := p.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for i := len(rs) - 1; i >= 0; i-- {
			_ = p.Delete(context.Background(), rs[i])
		}
	})
	as := func(role string) *pgx.Conn {
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Database, cfg.User = n, role
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatalf("connect as %s: %v", role, err)
		}
		t.Cleanup(func() { _ = c.Close(context.Background()) })
		return c
	}
	oc := as(n + "_owner")
	if _, err := oc.Exec(ctx, "CREATE TABLE items (id serial PRIMARY KEY, v text)"); err != nil {
		t.Fatal(err)
	}
	ac := as(n + "_app")
	if _, err := ac.Exec(ctx, "INSERT INTO items (v) VALUES ('x')"); err != nil {
		t.Fatalf("app role cannot write the owner's table: %v", err)
	}
	if _, err := ac.Exec(ctx, "CREATE TABLE mine (id int)"); err == nil {
		t.Fatal("app role could create a table in public")
	}
	cfg, _ := pgx.ParseConfig(url)
	cfg.User, cfg.Database = n+"_app", n+"_other"
	if c, err := pgx.ConnectConfig(ctx, cfg); err == nil {
		_ = c.Close(ctx)
		t.Fatalf("app role could connect to %s", cfg.Database)
	}
}
