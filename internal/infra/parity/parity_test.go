package parity

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/spec"
)

const base = `
service_stack:
  app_service: enabled
  database: managed_postgres
  cache: redis
  backups: enabled
  monitoring: enabled
services:
  api:
    run:
      command: bin/api
      secrets: [DB_URL, SESSION_KEY]
      env: {LOG_LEVEL: info}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger:
      - error_rate > 1% for 5m
    rollback_action: deploy previous_stable
    slo: {objective: 99.9%}
    environments:
      staging: {instances: 1, listen: 127.0.0.1:8081}
      production: {instances: 4, listen: 127.0.0.1:8082}
environments:
  - name: staging
    stack:
      database: {size: small, version: "16", connection_limit: "20", name: api_staging}
      cache: {memory: 256mb, prefix: "api:staging:"}
  - name: production
    stack:
      database: {size: large, version: "16", connection_limit: "200", replicas: "2", name: api_production}
      cache: {memory: 4gb, prefix: "api:production:"}
`

func load(t testing.TB, doc string) *spec.Project {
	t.Helper()
	f := filepath.Join(t.TempDir(), "belay.yaml")
	if err := os.WriteFile(f, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := spec.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRenderGraph(t *testing.T) {
	p := load(t, base)
	g, err := Render(p, "production")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, n := range g.Nodes {
		ids = append(ids, n.ID)
	}
	want := "backups/api cache/api database/api metrics/api monitoring/api secret/DB_URL secret/SESSION_KEY service/api slo/api triggers/api"
	if got := strings.Join(ids, " "); got != want {
		t.Fatalf("nodes\n got %s\nwant %s", got, want)
	}
	db := g.Node("database/api")
	if db.Attrs["engine"] != "postgresql" || db.Attrs["version"] != "16" || db.Attrs["name"] != "api_{env}" {
		t.Errorf("database shape: %v", db.Attrs)
	}
	for _, k := range []string{"size", "connection_limit", "replicas"} {
		if _, ok := db.Attrs[k]; ok {
			t.Errorf("size %s kept as shape", k)
		}
		if db.Dropped[k] == "" {
			t.Errorf("size %s not shown as dropped: %v", k, db.Dropped)
		}
	}
	if c := g.Node("cache/api"); c.Attrs["prefix"] != "api:{env}:" {
		t.Errorf("cache prefix not normalised: %q", c.Attrs["prefix"])
	}
	svc := g.Node("service/api")
	if svc.Attrs["secrets"] != "DB_URL SESSION_KEY" || svc.Dropped["instances"] != "4" || svc.Dropped["listen"] != "127.0.0.1:8082" {
		t.Errorf("service: attrs %v dropped %v", svc.Attrs, svc.Dropped)
	}
	if s := g.Node("slo/api"); s.Attrs["objective"] != "99.9%" || s.Attrs["window"] != "30d" {
		t.Errorf("slo: %v", s.Attrs)
	}
	edges := map[string]bool{}
	for _, e := range g.Edges {
		edges[e.String()] = true
	}
	for _, e := range []string{
		"service/api -uses-> database/api", "service/api -uses-> cache/api", "service/api -secret-> secret/DB_URL",
		"backups/api -backs_up-> database/api", "monitoring/api -scrapes-> service/api",
		"monitoring/api -rules_for-> slo/api", "triggers/api -judges-> service/api", "metrics/api -measures-> service/api",
	} {
		if !edges[e] {
			t.Errorf("missing edge %s; edges: %v", e, g.Edges)
		}
	}
}

func TestNormaliser(t *testing.T) {
	n := normaliser("prod")
	for in, want := range map[string]string{
		"api_prod":                 "api_{env}",
		"https://prod.example.com": "https://{env}.example.com",
		"prod":                     "{env}",
		"production":               "production", // not the token as a word
		"reproduce":                "reproduce",
		"PROD-db-prod":             "{env}-db-{env}",
		"a.prod.prod.b":            "a.{env}.{env}.b",
	} {
		if got := n(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

func TestSizeKey(t *testing.T) {
	for k, size := range map[string]bool{"size": true, "replicas": true, "connection_limit": true, "max_bytes": true,
		"stream_max_bytes": true, "backup_retention": true, "version": false, "extensions": false, "schedule": false, "prefix": false, "scrape_interval": true} {
		if SizeKey(k) != size {
			t.Errorf("SizeKey(%q) = %v", k, !size)
		}
	}
}

// queueStorage is base with the case study's queue and object storage,
// sized per environment as belay provisions them (internal/infra).
func queueStorage(stagingStorage string) string {
	doc := strings.Replace(base, "  monitoring: enabled\n", "  monitoring: enabled\n  queue: managed_queue\n  object_storage: enabled\n", 1)
	doc = strings.Replace(doc, `      cache: {memory: 256mb, prefix: "api:staging:"}`, `      cache: {memory: 256mb, prefix: "api:staging:"}
      queue: {admin_url_secret: NATS_ADMIN, max_bytes: 1MiB, max_age: 24h, replicas: "1", management: manage}
      object_storage: {admin_url_secret: S3_ADMIN`+stagingStorage+`}`, 1)
	return strings.Replace(doc, `      cache: {memory: 4gb, prefix: "api:production:"}`, `      cache: {memory: 4gb, prefix: "api:production:"}
      queue: {admin_url_secret: NATS_ADMIN, max_bytes: 10GiB, max_age: 7d, replicas: "3", management: manage}
      object_storage: {admin_url_secret: S3_ADMIN, versioning: enabled}`, 1)
}

// TestQueueStorageSizeAndShape: a stream's bytes, age and replicas are
// sizes; the servers' secrets, management and a bucket's versioning are
// shape; managed_queue renders as NATS and object_storage: enabled as S3.
func TestQueueStorageSizeAndShape(t *testing.T) {
	p := load(t, queueStorage(", versioning: enabled"))
	g, err := Render(p, "production")
	if err != nil {
		t.Fatal(err)
	}
	q, o := g.Node("queue/api"), g.Node("object_storage/api")
	if q == nil || o == nil || q.Attrs["engine"] != "nats" || o.Attrs["engine"] != "s3" {
		t.Fatalf("queue %+v, object storage %+v", q, o)
	}
	for _, k := range []string{"max_bytes", "max_age", "replicas"} {
		if _, ok := q.Attrs[k]; ok || q.Dropped[k] == "" {
			t.Errorf("queue %s is not a size: attrs %v dropped %v", k, q.Attrs, q.Dropped)
		}
	}
	if q.Attrs["admin_url_secret"] != "NATS_ADMIN" || q.Attrs["management"] != "manage" || o.Attrs["versioning"] != "enabled" {
		t.Errorf("shape: queue %v, object storage %v", q.Attrs, o.Attrs)
	}
	r, err := Compare(p, "staging", "production")
	if err != nil || !r.Equal {
		t.Fatalf("sizes made a difference: %v %+v", err, r.Differences)
	}
	r, err = Compare(load(t, queueStorage(", versioning: suspended")), "staging", "production")
	if err != nil || r.Equal || len(r.Differences) != 1 || r.Differences[0].Resource != "object_storage/api" || r.Differences[0].Attribute != "versioning" {
		t.Fatalf("versioning is shape: %v %+v", err, r.Differences)
	}
}

func TestSameShapeDifferentSize(t *testing.T) {
	r, err := Compare(load(t, base), "staging", "production")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Equal || len(r.Differences) != 0 {
		t.Fatalf("sizes and names made a difference: %+v", r.Differences)
	}
}

func TestShapeDifferences(t *testing.T) {
	doc := strings.Replace(base, `version: "16", connection_limit: "200"`, `version: "17", connection_limit: "200"`, 1)
	doc = strings.Replace(doc, "      cache: {memory: 4gb, prefix: \"api:production:\"}",
		"      cache: {memory: 4gb, prefix: \"api:production:\"}\n      backups: {enabled: \"false\"}", 1)
	r, err := Compare(load(t, doc), "staging", "production")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range r.Differences {
		got = append(got, d.line(r))
	}
	want := []string{
		"backups/api: only in staging",
		`database/api version: staging "16", production "17"`,
	}
	if r.Equal || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("differences\n got %q\nwant %q", got, want)
	}
}

func TestSecretFlowAndExtraResource(t *testing.T) {
	doc := base + `
  - name: canary
    stack:
      database: {size: small, version: "16", name: api_canary}
      cache: {memory: 1gb, prefix: "api:canary:"}
`
	// Only production gets a queue: staging leaves it out.
	doc = strings.Replace(doc, "  monitoring: enabled\n", "  monitoring: enabled\n  queue: nats\n", 1)
	doc = strings.Replace(doc, `      cache: {memory: 256mb, prefix: "api:staging:"}`, `      cache: {memory: 256mb, prefix: "api:staging:"}
      queue: {enabled: "false"}`, 1)
	r, err := Compare(load(t, doc), "staging", "production")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Differences) != 1 || r.Differences[0].Resource != "queue/api" || r.Differences[0].A != Absent {
		t.Fatalf("want queue/api only in production, got %+v", r.Differences)
	}
	// The edge to the queue is not repeated as a second difference.
	r, err = Compare(load(t, doc), "production", "canary")
	if err != nil || !r.Equal {
		t.Fatalf("production and canary: %v %+v", err, r)
	}
}

func TestExceptions(t *testing.T) {
	doc := strings.Replace(base, `version: "16", connection_limit: "200"`, `version: "17", connection_limit: "200"`, 1)
	ex := doc + `
parity:
  exceptions:
    - resource: database/api
      attribute: version
      environments: [staging, production]
      reason: production is upgraded first, staging follows next week
`
	r, err := Compare(load(t, ex), "staging", "production")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Equal || len(r.Excused) != 1 || r.Excused[0].Reason == "" || r.Excused[0].Exception != "parity.exceptions[0]" {
		t.Fatalf("exception not applied: %+v", r)
	}

	// The same exception on equal environments excuses nothing: an error
	// with the exception's position.
	stale := base + ex[len(doc):]
	r, err = Compare(load(t, stale), "staging", "production")
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Count(stale[:strings.Index(stale, "- resource: database/api")], "\n") + 1
	if r.Equal || len(r.Unused) != 1 || r.Unused[0].Line != line || !strings.Contains(r.Unused[0].Error(), "excuses no difference") {
		t.Fatalf("unused exception: %+v", r.Unused)
	}

	// An exception naming nothing any environment renders.
	for _, c := range []struct{ exc, want string }{
		{"- resource: databse/api\n      reason: typo", `parity.exceptions[0].resource: resource "databse/api" matches no resource`},
		{"- resource: database/api\n      attribute: colour\n      reason: typo", `parity.exceptions[0].attribute: database/api has no attribute "colour"`},
	} {
		p := load(t, base+"parity:\n  exceptions:\n    "+c.exc+"\n")
		_, err := Compare(p, "staging", "production")
		var errs spec.Errors
		if !errors.As(err, &errs) || !strings.Contains(err.Error(), c.want) || errs[0].Line == 0 {
			t.Errorf("want %q with a position, got %v", c.want, err)
		}
	}
}

func TestBadInput(t *testing.T) {
	p := load(t, base)
	if _, err := Compare(p, "staging", "prod"); err == nil || !strings.Contains(err.Error(), `environment "prod" is not defined`) {
		t.Errorf("unknown environment: %v", err)
	}
	if _, err := Compare(p, "staging", "staging"); err == nil {
		t.Error("same environment twice accepted")
	}
	// enabled must be a boolean; belay.yaml's validation says so with a
	// position, and Render refuses one it is handed anyway.
	p.Environment("staging").Stack["database"][EnabledParam] = "maybe"
	if _, err := Compare(p, "staging", "production"); err == nil || !strings.Contains(err.Error(), `stack.database.enabled is "maybe"`) {
		t.Errorf("enabled: maybe: %v", err)
	}
}
