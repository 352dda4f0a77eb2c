package infra_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/belay-dev/belay/internal/infra"
	"github.com/belay-dev/belay/internal/infra/nats"
	"github.com/belay-dev/belay/internal/infra/provider"
	"github.com/belay-dev/belay/internal/infra/s3"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/sqlite"
	"github.com/belay-dev/belay/internal/testenv"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// queueStorageProject has a queue and object storage, the case study's
// values (managed_queue, enabled), sized per environment.
func queueStorageProject(t *testing.T, svc, stagingQueue, stagingStorage string) *spec.Project {
	t.Helper()
	y := fmt.Sprintf(`service_stack:
  app_service: enabled
  queue: managed_queue
  object_storage: enabled
services:
  %s:
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger:
      - error_rate > 1%% for 5m
    rollback_action: deploy previous_stable
environments:
  - name: staging
    stack:
      queue: {admin_url_secret: NATS_ADMIN, max_bytes: 1MiB, max_age: 24h%s}
      object_storage: {admin_url_secret: S3_ADMIN%s}
  - name: production
    stack:
      queue: {admin_url_secret: NATS_ADMIN, max_bytes: 1GiB, max_age: 7d, replicas: "1"}
      object_storage: {admin_url_secret: S3_ADMIN, versioning: enabled}
`, svc, stagingQueue, stagingStorage)
	p, err := spec.ParseProject("belay.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func queueStorageEngine(t *testing.T) (*infra.Engine, store.Store) {
	t.Helper()
	secrets := map[string]string{"NATS_ADMIN": testenv.NATS(t), "S3_ADMIN": testenv.S3(t)}
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "state.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return &infra.Engine{Store: st, Secrets: func(env string, names []string) (map[string]string, error) {
		out := map[string]string{}
		for _, n := range names {
			v, ok := secrets[n]
			if !ok {
				return nil, fmt.Errorf("secret %s is not set in %s", n, env)
			}
			out[n] = v
		}
		return out, nil
	}}, st
}

func cleanupQueueStorage(t *testing.T, svc, env string) {
	ctx := context.WithoutCancel(t.Context())
	if p, err := nats.New(testenv.NATS(t)); err == nil {
		_ = p.Delete(ctx, provider.Resource{Kind: nats.KindStream, Name: svc + "_" + env})
		_ = p.Close()
	}
	if p, err := s3.New(testenv.S3(t)); err == nil {
		_ = p.Delete(ctx, provider.Resource{Kind: s3.KindBucket, Name: svc + "-" + env})
	}
}

// byHand are clients an operator would use.
func byHand(t *testing.T) (jetstream.JetStream, *awss3.Client) {
	t.Helper()
	nc, err := natsgo.Connect(testenv.NATS(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(testenv.S3(t))
	pw, _ := u.User.Password()
	c := awss3.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(u.User.Username(), pw, "")},
		func(o *awss3.Options) { o.BaseEndpoint, o.UsePathStyle = aws.String("http://"+u.Host), true })
	return js, c
}

// TestQueueStoragePlanApplyDrift: staging and production from one project
// get a stream and a bucket each, sized per environment; a stream's age
// and a bucket's versioning changed by hand are drift naming the resource
// and field; a plan updates exactly those and apply restores them; the
// bucket is protected when the service goes away.
func TestQueueStoragePlanApplyDrift(t *testing.T) {
	e, st := queueStorageEngine(t)
	ctx := t.Context()
	svc := fmt.Sprintf("q%d", time.Now().UnixNano())
	p := queueStorageProject(t, svc, "", "")
	for _, env := range []string{"staging", "production"} {
		t.Cleanup(func() { cleanupQueueStorage(t, svc, env) })
		pl := planApprove(t, e, p, env)
		if pl.Summary[infra.ActCreate] != 2 || len(pl.Changes) != 2 {
			t.Fatalf("%s plan = %+v, want 2 creates", env, pl.Changes)
		}
		if _, err := e.Apply(ctx, p, env, pl.ID, infra.ApplyOptions{Actor: "carol"}); err != nil {
			t.Fatalf("apply %s: %v", env, err)
		}
		if pl2, err := e.Plan(ctx, p, env, "alice", nil); err != nil || pl2.Summary[infra.ActNoop] != 2 {
			t.Fatalf("%s plan after apply = %+v, %v; want 2 no-ops", env, pl2.Summary, err)
		}
	}
	js, sc := byHand(t)
	s, err := js.Stream(ctx, svc+"_production")
	if err != nil {
		t.Fatal(err)
	}
	if c := s.CachedInfo().Config; c.MaxBytes != 1<<30 || c.MaxAge != 7*24*time.Hour || strings.Join(c.Subjects, ",") != svc+".production.>" {
		t.Fatalf("production stream: max_bytes %d, max_age %s, subjects %v", c.MaxBytes, c.MaxAge, c.Subjects)
	}
	c := s.CachedInfo().Config
	c.MaxAge = time.Hour
	if _, err := js.UpdateStream(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{Bucket: aws.String(svc + "-production"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}}); err != nil {
		t.Fatal(err)
	}
	rep, err := e.Drift(ctx, p, "production")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]infra.Drift{}
	for _, d := range rep.Drifts {
		got[d.Kind+"/"+d.Name+" "+d.Field] = d
	}
	age, ver := got["nats_stream/"+svc+"_production max_age"], got["s3_bucket/"+svc+"-production versioning"]
	if len(rep.Drifts) != 2 || age.Expected != "168h0m0s" || age.Found != "1h0m0s" || ver.Expected != "Enabled" || ver.Found != "Suspended" || !age.New {
		t.Fatalf("drift = %+v, want the stream's max_age and the bucket's versioning", rep.Drifts)
	}
	if rep, _ := e.Drift(ctx, p, "staging"); len(rep.Drifts) != 0 || rep.Checked != 2 {
		t.Fatalf("staging drift = %+v", rep)
	}
	pl := planApprove(t, e, p, "production")
	if pl.Summary[infra.ActUpdate] != 2 {
		t.Fatalf("restoring plan = %+v", pl.Changes)
	}
	if _, err := e.Apply(ctx, p, "production", pl.ID, infra.ApplyOptions{Actor: "carol"}); err != nil {
		t.Fatal(err)
	}
	if rep, _ := e.Drift(ctx, p, "production"); len(rep.Drifts) != 0 {
		t.Fatalf("drift after apply = %+v", rep.Drifts)
	}

	// The service goes away: the stream is deleted, the bucket only with
	// the audited override.
	gone := queueStorageProject(t, svc+"x", "", "")
	t.Cleanup(func() { cleanupQueueStorage(t, svc+"x", "staging") })
	pl = planApprove(t, e, gone, "staging")
	var protected []string
	for _, c := range pl.Changes {
		if c.Action == infra.ActDelete && c.Protected {
			protected = append(protected, c.Kind+"/"+c.Name)
		}
	}
	if len(protected) != 1 || protected[0] != "s3_bucket/"+svc+"-staging" {
		t.Fatalf("protected deletes = %v, want the bucket only", protected)
	}
	if _, err := e.Apply(ctx, gone, "staging", pl.ID, infra.ApplyOptions{Actor: "carol"}); !errors.Is(err, infra.ErrProtected) {
		t.Fatalf("protected delete: %v", err)
	}
	if _, err := js.Stream(ctx, svc+"_staging"); err != nil {
		t.Fatalf("a refused apply deleted the stream: %v", err)
	}
	if _, err := e.Apply(ctx, gone, "staging", pl.ID, infra.ApplyOptions{Actor: "carol", DeleteProtected: true, Reason: "service retired"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String(svc + "-staging")}); err == nil {
		t.Fatal("the bucket is still there after the override")
	}
	entries, _ := st.AuditSince(ctx, 0, 1000)
	override := false
	for _, a := range entries {
		override = override || a.Action == "infra.delete_protected" && a.Subject == "resource/staging/s3_bucket/"+svc+"-staging"
	}
	if !override {
		t.Fatal("the bucket's deletion is not audited")
	}
}

// TestQueueStorageStack: names follow the template, the case study's
// values map to NATS and S3, and bad parameters are refused with their
// path.
func TestQueueStorageStack(t *testing.T) {
	none := func(string, []string) (map[string]string, error) { return nil, errors.New("no secret needed") }
	p := queueStorageProject(t, "api", "", "")
	st, err := infra.StackOf(p, "staging", none)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"nats_stream/api_staging": `{"discard":"old","max_age":"24h0m0s","max_bytes":"1048576","replicas":"1","retention":"limits","storage":"file","subjects":"api.staging.\u003e"}`,
		"s3_bucket/api-staging":   `{"versioning":"Enabled"}`,
	}
	if len(st.Resources) != 2 {
		t.Fatalf("resources = %+v", st.Resources)
	}
	for _, d := range st.Resources {
		if w, ok := want[d.ID()]; !ok || jsonOf(t, d.Spec) != w {
			t.Errorf("%s: %s", d.ID(), jsonOf(t, d.Spec))
		}
		if d.Protect != (d.Kind == s3.KindBucket) {
			t.Errorf("%s protect = %v", d.ID(), d.Protect)
		}
	}
	for _, c := range []struct{ queue, storage, want string }{
		{`, replicas: "9"`, "", `environments[0].stack.queue.replicas: "9" is not a number of replicas from 1 to 5`},
		{`, storage: memory`, "", `environments[0].stack.queue.storage: not a parameter of queue managed_queue`},
		{"", `, versioning: maybe`, `environments[0].stack.object_storage.versioning: "maybe" is not enabled or suspended`},
		{"", `, expiration_days: "30"`, `environments[0].stack.object_storage.expiration_days: not a parameter of object_storage enabled`},
	} {
		_, err := infra.StackOf(queueStorageProject(t, "api", c.queue, c.storage), "staging", none)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "belay.yaml:") {
			t.Errorf("%s%s: %v; want %q with a position", c.queue, c.storage, err, c.want)
		}
	}
	for k, v := range map[string]string{"max_bytes": "lots", "max_age": "forever"} {
		p := queueStorageProject(t, "api", "", "")
		p.Environments[0].Stack["queue"][k] = v
		want := fmt.Sprintf("belay.yaml:16:%d: environments[0].stack.queue.%s: %q is not a", map[string]int{"max_bytes": 56, "max_age": 71}[k], k, v)
		if _, err := infra.StackOf(p, "staging", none); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want %q", k, err, want)
		}
	}
	long := queueStorageProject(t, strings.Repeat("a", 60), "", "")
	if _, err := infra.StackOf(long, "staging", none); err == nil || !strings.Contains(err.Error(), "services."+strings.Repeat("a", 60)) ||
		!strings.Contains(err.Error(), "shorten the service or environment name") {
		t.Errorf("a bucket name over 63 characters: %v", err)
	}
}

func jsonOf(t *testing.T, f provider.Fields) string {
	t.Helper()
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
