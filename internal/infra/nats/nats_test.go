package nats_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/infra/nats"
	"github.com/belay-dev/belay/internal/infra/provider"
	"github.com/belay-dev/belay/internal/infra/providertest"
	"github.com/belay-dev/belay/internal/testenv"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func open(t *testing.T) (*nats.Provider, jetstream.JetStream) {
	t.Helper()
	u := testenv.NATS(t)
	p, err := nats.New(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	nc, err := natsgo.Connect(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return p, js
}

func spec(svc string, maxBytes, maxAge string) provider.Fields {
	return provider.Fields{"subjects": svc + ".staging.>", "max_bytes": maxBytes, "max_age": maxAge, "replicas": "1",
		"storage": "file", "retention": "limits", "discard": "old"}
}

// TestProvider runs the shared provider suite against a real nats-server
// with JetStream.
func TestProvider(t *testing.T) {
	p, js := open(t)
	svc := fmt.Sprintf("svc%d", time.Now().UnixNano())
	name := svc + "_staging"
	changed := spec(svc, "2097152", "48h0m0s")
	changed["subjects"] = nats.NormalSubjects(svc + ".staging.>," + svc + ".staging-audit.>")
	changed["discard"] = "new"
	providertest.Run(t, p, providertest.Case{
		Resources: []provider.Resource{{Kind: nats.KindStream, Name: name, Spec: spec(svc, "1048576", "24h0m0s")}},
		Changed:   []provider.Resource{{Kind: nats.KindStream, Name: name, Spec: changed}},
		Tamper: func(ctx context.Context, t *testing.T) (int, string) {
			s, err := js.Stream(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			c := s.CachedInfo().Config
			c.MaxBytes = 4096 // shrunk by hand
			if _, err := js.UpdateStream(ctx, c); err != nil {
				t.Fatal(err)
			}
			return 0, "max_bytes"
		},
	})
}

// TestDefaultsNormalised: a stream made by hand with only a name and
// subjects is observed in normal form (the server's defaults: no limits,
// one replica, file storage, limits retention, discard old), so a spec
// written that way shows no difference; Update changes the owned fields
// and keeps what belay does not own (description, message limit).
func TestDefaultsNormalised(t *testing.T) {
	p, js := open(t)
	ctx := t.Context()
	svc := fmt.Sprintf("def%d", time.Now().UnixNano())
	name := svc + "_staging"
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{svc + ".staging.b", svc + ".staging.a"},
		Description: "made by hand", MaxMsgs: 1000}); err != nil {
		t.Fatal(err)
	}
	r := provider.Resource{Kind: nats.KindStream, Name: name, Spec: spec(svc, "-1", "0s")}
	r.Spec["subjects"] = svc + ".staging.a," + svc + ".staging.b"
	t.Cleanup(func() { _ = p.Delete(context.Background(), r) })
	o, err := p.Observe(ctx, r)
	if err != nil || !o.Exists {
		t.Fatalf("observe: %v %+v", err, o)
	}
	if d := provider.Diff(r.Spec, o.Fields); len(d) != 0 {
		t.Fatalf("defaults not normalised: %+v (observed %v)", d, o.Fields)
	}
	r.Spec["max_bytes"], r.Spec["max_age"] = "1000000", "1h0m0s"
	if err := p.Update(ctx, r); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	c := s.CachedInfo().Config
	if c.MaxBytes != 1000000 || c.MaxAge != time.Hour || c.Description != "made by hand" || c.MaxMsgs != 1000 {
		t.Fatalf("after update: max_bytes %d max_age %s description %q max_msgs %d", c.MaxBytes, c.MaxAge, c.Description, c.MaxMsgs)
	}
}

// TestStorageNotChangedInPlace: NATS cannot move a stream between file and
// memory storage; Update says so and changes nothing.
func TestStorageNotChangedInPlace(t *testing.T) {
	p, _ := open(t)
	ctx := t.Context()
	svc := fmt.Sprintf("st%d", time.Now().UnixNano())
	r := provider.Resource{Kind: nats.KindStream, Name: svc + "_staging", Spec: spec(svc, "-1", "0s")}
	if err := p.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Delete(context.Background(), r) })
	m := provider.Resource{Kind: r.Kind, Name: r.Name, Spec: spec(svc, "2048", "0s")}
	m.Spec["storage"] = "memory"
	err := p.Update(ctx, m)
	if err == nil || !strings.Contains(err.Error(), "cannot change a stream's storage in place") {
		t.Fatalf("storage change: %v", err)
	}
	if o, _ := p.Observe(ctx, r); o.Fields["max_bytes"] != "-1" || o.Fields["storage"] != "file" {
		t.Fatalf("a refused update changed the stream: %v", o.Fields)
	}
}

// TestBadAdminURL: a URL that does not parse, a wrong password and a port
// nobody listens on are errors naming the server and what to check.
func TestBadAdminURL(t *testing.T) {
	good, err := url.Parse(testenv.NATS(t))
	if err != nil {
		t.Fatal(err)
	}
	wrong := *good
	wrong.User = url.UserPassword(good.User.Username(), "not-the-password")
	for in, want := range map[string]string{
		"http://127.0.0.1:4222":      "not nats://user:password@host:port",
		"::not a url":                "not nats://user:password@host:port",
		wrong.String():               "the NATS server at " + good.Host + " refused the login",
		"nats://belay:x@127.0.0.1:1": "cannot connect to the NATS server at 127.0.0.1:1",
	} {
		p, err := nats.New(in)
		if err == nil {
			_ = p.Close()
			t.Errorf("%s: accepted", in)
			continue
		}
		t.Logf("%s: %v", in, err)
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want %q", in, err, want)
		}
		if strings.Contains(err.Error(), "not-the-password") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

func TestNormalForms(t *testing.T) {
	for in, want := range map[string]string{"": "-1", "-1": "-1", "1048576": "1048576", "512MiB": "536870912", "1GB": "1000000000", "10 kb": "10000"} {
		if got, err := nats.NormalBytes(in); err != nil || got != want {
			t.Errorf("NormalBytes(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"0", "-5", "lots", "1.5GB", "12XB"} {
		if _, err := nats.NormalBytes(bad); err == nil {
			t.Errorf("NormalBytes(%q) accepted", bad)
		}
	}
	for in, want := range map[string]string{"": "0s", "0": "0s", "72h": "72h0m0s", "7d": "168h0m0s", "90m": "1h30m0s"} {
		if got, err := nats.NormalAge(in); err != nil || got != want {
			t.Errorf("NormalAge(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"-1h", "week", "3x"} {
		if _, err := nats.NormalAge(bad); err == nil {
			t.Errorf("NormalAge(%q) accepted", bad)
		}
	}
}
