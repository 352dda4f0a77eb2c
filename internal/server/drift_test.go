package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/infra"
	"github.com/belay-dev/belay/internal/secret"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/testenv"
	"github.com/jackc/pgx/v5"
)

// driftServer is a test server whose staging stack (a database and a
// cache of a service of its own, returned) is applied.
func driftServer(t *testing.T) (*Server, store.Store, string) {
	t.Helper()
	pg, rd := testenv.Postgres(t), testenv.Redis(t)
	s, st := testServer(t)
	ctx := t.Context()
	svc := fmt.Sprintf("sd%d", time.Now().UnixNano())
	b, err := os.ReadFile(s.d.ProjectFile)
	if err != nil {
		t.Fatal(err)
	}
	y := strings.Replace(string(b), "  hello:", "  "+svc+":", 1)
	y = strings.Replace(y, "  - name: staging\n", "  - name: staging\n    stack:\n      database: {admin_url_secret: PG_ADMIN}\n      cache: {admin_url_secret: REDIS_ADMIN, password_secret: CACHE_PASSWORD}\n", 1)
	y += "service_stack: {app_service: enabled, database: managed_postgres, cache: redis}\n"
	if err := os.WriteFile(s.d.ProjectFile, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.d.Secrets.Change("staging", func(set secret.Set) error {
		set["PG_ADMIN"], set["REDIS_ADMIN"], set["CACHE_PASSWORD"] = pg, rd, "cache-password"
		return nil
	}, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), pg)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE)`, svc+"_staging"))
		_, _ = c.Exec(context.Background(), fmt.Sprintf(`DROP ROLE IF EXISTS %q`, svc+"_staging_app"))
		_, _ = c.Exec(context.Background(), fmt.Sprintf(`DROP ROLE IF EXISTS %q`, svc+"_staging_owner"))
	})
	p, err := s.Project()
	if err != nil {
		t.Fatal(err)
	}
	e, _ := s.infraEngine()
	pl, err := e.Plan(ctx, p, "staging", "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Approve(ctx, pl.ID, "bob", "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(ctx, p, "staging", pl.ID, infra.ApplyOptions{Actor: "carol"}); err != nil {
		t.Fatal(err)
	}
	return s, st, svc
}

// TestScheduledDrift: the server's scheduled check (one round, run as
// the ticker runs it) records new drift and emits an infra_drift event,
// does not report unchanged drift again, and emits infra_drift_resolved
// once it is gone; only the holder of the drift lease checks.
func TestScheduledDrift(t *testing.T) {
	s, st, svc := driftServer(t)
	ctx := t.Context()
	pg := testenv.Postgres(t)
	events := func() []event.Event {
		stored, err := st.EventsSince(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var out []event.Event
		for _, se := range stored {
			var ev event.Event
			_ = json.Unmarshal(se.Data, &ev)
			if strings.HasPrefix(ev.Event, "infra_drift") {
				out = append(out, ev)
			}
		}
		return out
	}
	s.checkDrift(ctx, time.Minute)
	if evs := events(); len(evs) != 0 {
		t.Fatalf("events with no drift: %+v", evs)
	}
	c, err := pgx.Connect(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, fmt.Sprintf(`ALTER ROLE %q CONNECTION LIMIT 9`, svc+"_staging_app")); err != nil {
		t.Fatal(err)
	}
	// another server holds the lease: this one does not check
	if err := st.ReleaseLease(ctx, driftLease, s.d.Holder); err != nil {
		t.Fatal(err)
	}
	if _, held, _ := st.AcquireLease(ctx, driftLease, "other server", time.Hour, time.Now()); !held {
		t.Fatal("lease")
	}
	s.checkDrift(ctx, time.Minute)
	if evs := events(); len(evs) != 0 {
		t.Fatalf("checked without the lease: %+v", evs)
	}
	if err := st.ReleaseLease(ctx, driftLease, "other server"); err != nil {
		t.Fatal(err)
	}
	s.checkDrift(ctx, time.Minute)
	s.checkDrift(ctx, time.Minute) // unchanged: not again
	evs := events()
	if len(evs) != 1 || evs[0].Event != event.InfraDrift || evs[0].Environment != "staging" ||
		!strings.Contains(evs[0].Reason, `postgres_role/`+svc+`_staging_app drifted: connection_limit expected "10" found "9"`) {
		t.Fatalf("events after drift = %+v, want one infra_drift naming the field", evs)
	}
	rows, _ := st.InfraResources(ctx, "staging")
	var recorded bool
	for _, r := range rows {
		recorded = recorded || r.Name == svc+"_staging_app" && r.DriftHash != "" && strings.Contains(string(r.Drift), `"found":"9"`)
	}
	if !recorded {
		t.Fatalf("the drift is not stored with the resource: %+v", rows)
	}
	// the dashboard's overview has a drift entry per environment
	page, err := s.overview(httptest.NewRequest("GET", "/", nil))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.dashInit()
	s.render(rec, 200, "overview", page)
	if body := rec.Body.String(); !strings.Contains(body, `<td class="drift bad" data-env="staging">drift: postgres_role/`+svc+`_staging_app connection_limit=&#34;9&#34;</td>`) ||
		!strings.Contains(body, `<td class="drift " data-env="production">—</td>`) {
		t.Fatalf("overview without the drift entries:\n%s", body)
	}
	if _, err := c.Exec(ctx, fmt.Sprintf(`ALTER ROLE %q CONNECTION LIMIT 10`, svc+"_staging_app")); err != nil {
		t.Fatal(err)
	}
	s.checkDrift(ctx, time.Minute)
	if evs = events(); len(evs) != 2 || evs[1].Event != event.InfraDriftResolved {
		t.Fatalf("events after the fix = %+v, want infra_drift_resolved", evs)
	}
}

// TestDriftRecordObservesItself: POST drift/record records what the server
// observes, never the report a client sends: a forged report saying the
// drift is gone neither clears it nor emits infra_drift_resolved, and
// made-up drift is not stored.
func TestDriftRecordObservesItself(t *testing.T) {
	s, st, svc := driftServer(t)
	ctx := t.Context()
	hs, _ := authedServer(t, s)
	c, err := pgx.Connect(ctx, testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, fmt.Sprintf(`ALTER ROLE %q CONNECTION LIMIT 9`, svc+"_staging_app")); err != nil {
		t.Fatal(err)
	}
	s.checkDrift(ctx, time.Minute) // the drift recorded
	role := "postgres_role/" + svc + "_staging_app"
	for _, forged := range []string{
		`{"environment": "staging", "drifts": [], "checked": 1, "seen": {"` + role + `": ""}}`,
		`{"environment": "staging", "drifts": [{"kind": "postgres_role", "name": "` + svc + `_staging_app", "field": "owner", "expected": "a", "found": "<script>"}], "checked": 1, "seen": {"` + role + `": "0000"}}`,
	} {
		resp, err := hs.Client().Post(hs.URL+"/api/v1/infra/envs/staging/drift/record", "application/json", strings.NewReader(forged))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close() // refused or not, what counts is what it recorded
	}
	stored, err := st.EventsSince(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, se := range stored {
		var ev event.Event
		_ = json.Unmarshal(se.Data, &ev)
		if ev.Event == event.InfraDriftResolved || strings.Contains(ev.Reason, "<script>") {
			t.Fatalf("a forged report emitted %+v", ev)
		}
	}
	rows, _ := st.InfraResources(ctx, "staging")
	for _, r := range rows {
		if r.Name == svc+"_staging_app" && (r.DriftHash == "" || !strings.Contains(string(r.Drift), `"found":"9"`)) {
			t.Fatalf("the drift stored after forged reports = %s %s, want the drift observed", r.DriftHash, r.Drift)
		}
	}
}
