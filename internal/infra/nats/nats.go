// Package nats is the infrastructure provider for NATS JetStream streams:
// one stream per service and environment. JetStream fills every field a
// request leaves out with its defaults and rewrites some it is given (0
// replicas is 1, 0 bytes is -1), so Observe reports only the fields belay
// owns, each in one normal form, and Update changes only those fields of
// the stream's configuration, leaving the others as the server has them.
//
// NATS keeps users and their permissions in the server's configuration
// (or in operator JWTs served by an account resolver), not behind an API a
// client can call: belay manages streams, not users.
package nats

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/infra/provider"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// KindStream is a JetStream stream. Fields: subjects (sorted,
// comma-separated), max_bytes (bytes, -1 for no limit), max_age (a Go
// duration, "0s" for no limit), replicas, storage (file, memory),
// retention (limits, interest, workqueue) and discard (old, new).
const KindStream = "nats_stream"

// Fields a stream's spec holds.
var Fields = []string{"subjects", "max_bytes", "max_age", "replicas", "storage", "retention", "discard"}

var (
	storages   = map[string]jetstream.StorageType{"file": jetstream.FileStorage, "memory": jetstream.MemoryStorage}
	retentions = map[string]jetstream.RetentionPolicy{"limits": jetstream.LimitsPolicy, "interest": jetstream.InterestPolicy, "workqueue": jetstream.WorkQueuePolicy}
	discards   = map[string]jetstream.DiscardPolicy{"old": jetstream.DiscardOld, "new": jetstream.DiscardNew}
)

// Provider manages streams on one server.
type Provider struct {
	nc     *natsgo.Conn
	js     jetstream.JetStream
	server string // host:port, for messages (never the credentials)
}

var _ provider.Provider = (*Provider)(nil)

// New connects to the server at adminURL (nats://user:password@host:port)
// and checks that JetStream is enabled there.
func New(adminURL string) (*Provider, error) {
	u, err := url.Parse(adminURL)
	if err != nil || u.Host == "" || (u.Scheme != "nats" && u.Scheme != "tls") {
		return nil, errors.New("nats: the administrator URL is not nats://user:password@host:port (check the secret that holds it)")
	}
	nc, err := natsgo.Connect(adminURL, natsgo.Name("belay"), natsgo.Timeout(10*time.Second), natsgo.NoReconnect())
	if err != nil {
		if errors.Is(err, natsgo.ErrAuthorization) {
			return nil, fmt.Errorf("nats: the NATS server at %s refused the login (%v): check the user and password in the administrator URL secret", u.Host, err)
		}
		return nil, fmt.Errorf("nats: cannot connect to the NATS server at %s: %v (check the host and port in the administrator URL secret)", u.Host, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: %s: %v", u.Host, err)
	}
	p := &Provider{nc: nc, js: js, server: u.Host}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		nc.Close()
		return nil, p.wrap("check JetStream", "", err)
	}
	return p, nil
}

// Kinds is the stream.
func (p *Provider) Kinds() []string { return []string{KindStream} }

// Close closes the connection.
func (p *Provider) Close() error { p.nc.Close(); return nil }

// wrap says which server failed doing what, and what to do where it knows.
func (p *Provider) wrap(op, name string, err error) error {
	what := op
	if name != "" {
		what += " stream " + name
	}
	switch {
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return fmt.Errorf("nats: %s: JetStream is not enabled on the NATS server at %s for this user's account: start the server with -js (or enable jetstream in its configuration)", what, p.server)
	case errors.Is(err, natsgo.ErrNoResponders):
		return fmt.Errorf("nats: %s: the NATS server at %s has no JetStream answering (%v): start it with -js", what, p.server, err)
	}
	return fmt.Errorf("nats: %s on the NATS server at %s: %w", what, p.server, err)
}

// Observe reads the stream's configuration.
func (p *Provider) Observe(ctx context.Context, r provider.Resource) (provider.Observation, error) {
	if r.Kind != KindStream {
		return provider.Observation{}, fmt.Errorf("nats: unknown kind %q", r.Kind)
	}
	s, err := p.js.Stream(ctx, r.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return provider.Observation{}, nil
	}
	if err != nil {
		return provider.Observation{}, p.wrap("observe", r.Name, err)
	}
	return provider.Observation{Exists: true, Fields: fieldsOf(s.CachedInfo().Config)}, nil
}

// fieldsOf is the owned part of a configuration in normal form.
func fieldsOf(c jetstream.StreamConfig) provider.Fields {
	maxBytes := c.MaxBytes
	if maxBytes <= 0 {
		maxBytes = -1
	}
	replicas := max(c.Replicas, 1)
	return provider.Fields{
		"subjects":  NormalSubjects(strings.Join(c.Subjects, ",")),
		"max_bytes": strconv.FormatInt(maxBytes, 10),
		"max_age":   c.MaxAge.String(),
		"replicas":  strconv.Itoa(replicas),
		"storage":   keyOf(storages, c.Storage),
		"retention": keyOf(retentions, c.Retention),
		"discard":   keyOf(discards, c.Discard),
	}
}

func keyOf[V comparable](m map[string]V, v V) string {
	for k, x := range m {
		if x == v {
			return k
		}
	}
	return fmt.Sprint(v)
}

// apply sets the owned fields of spec on c; it checks every field before
// changing any.
func apply(c *jetstream.StreamConfig, name string, spec provider.Fields) error {
	bad := func(field, want string) error {
		return fmt.Errorf("nats: stream %s: %s %q is not %s", name, field, spec[field], want)
	}
	subs := strings.Split(spec["subjects"], ",")
	if spec["subjects"] == "" || slices.Contains(subs, "") {
		return bad("subjects", "a comma-separated list of subjects")
	}
	maxBytes, err := NormalBytes(spec["max_bytes"])
	if err != nil {
		return fmt.Errorf("nats: stream %s: max_bytes: %v", name, err)
	}
	mb, _ := strconv.ParseInt(maxBytes, 10, 64)
	age, err := NormalAge(spec["max_age"])
	if err != nil {
		return fmt.Errorf("nats: stream %s: max_age: %v", name, err)
	}
	d, _ := time.ParseDuration(age)
	replicas, err := strconv.Atoi(spec["replicas"])
	if err != nil || replicas < 1 || replicas > 5 {
		return bad("replicas", "a number from 1 to 5")
	}
	st, ok := storages[spec["storage"]]
	if !ok {
		return bad("storage", "file or memory")
	}
	ret, ok := retentions[spec["retention"]]
	if !ok {
		return bad("retention", "limits, interest or workqueue")
	}
	dis, ok := discards[spec["discard"]]
	if !ok {
		return bad("discard", "old or new")
	}
	if c.Name != "" && c.Storage != st {
		return fmt.Errorf("nats: stream %s keeps its messages in %s storage and the spec says %s: NATS cannot change a stream's storage in place. "+
			"Delete the stream by hand (its messages go with it) and apply again, or keep storage %s", name, keyOf(storages, c.Storage), spec["storage"], keyOf(storages, c.Storage))
	}
	c.Name, c.Subjects, c.MaxBytes, c.MaxAge, c.Replicas = name, subs, mb, d, replicas
	if d > 0 && c.Duplicates > d { // the server refuses a duplicate window longer than the age
		c.Duplicates = d
	}
	c.Storage, c.Retention, c.Discard = st, ret, dis
	return nil
}

// Create makes the stream, or makes an existing one match r.Spec.
func (p *Provider) Create(ctx context.Context, r provider.Resource) error {
	if r.Kind != KindStream {
		return fmt.Errorf("nats: unknown kind %q", r.Kind)
	}
	var c jetstream.StreamConfig
	if err := apply(&c, r.Name, r.Spec); err != nil {
		return err
	}
	_, err := p.js.CreateStream(ctx, c)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return p.Update(ctx, r)
	}
	if err != nil {
		return p.wrap("create", r.Name, err)
	}
	return nil
}

// Update changes the owned fields of the existing stream and keeps the
// others as the server has them.
func (p *Provider) Update(ctx context.Context, r provider.Resource) error {
	if r.Kind != KindStream {
		return fmt.Errorf("nats: unknown kind %q", r.Kind)
	}
	s, err := p.js.Stream(ctx, r.Name)
	if err != nil {
		return p.wrap("update", r.Name, err)
	}
	c := s.CachedInfo().Config
	if err := apply(&c, r.Name, r.Spec); err != nil {
		return err
	}
	if _, err := p.js.UpdateStream(ctx, c); err != nil {
		return p.wrap("update", r.Name, err)
	}
	return nil
}

// Delete removes the stream and its messages; a missing stream is not an
// error.
func (p *Provider) Delete(ctx context.Context, r provider.Resource) error {
	if r.Kind != KindStream {
		return fmt.Errorf("nats: unknown kind %q", r.Kind)
	}
	err := p.js.DeleteStream(ctx, r.Name)
	if err == nil || errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	return p.wrap("delete", r.Name, err)
}

// NormalSubjects is a comma-separated list of subjects sorted, without
// blanks or repeats.
func NormalSubjects(s string) string {
	var subs []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			subs = append(subs, x)
		}
	}
	slices.Sort(subs)
	return strings.Join(slices.Compact(subs), ",")
}

// NormalBytes is a size in normal form: whole bytes, "-1" for no limit.
// It takes a number of bytes or one with a unit (KB, MB, GB, TB powers of
// 1000; KiB, MiB, GiB, TiB powers of 1024); "" and "-1" are no limit.
func NormalBytes(s string) (string, error) {
	t := strings.TrimSpace(s)
	if t == "" || t == "-1" {
		return "-1", nil
	}
	mult := int64(1)
	lower := strings.ToLower(t)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40}, {"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12}, {"b", 1}} {
		if strings.HasSuffix(lower, u.suffix) {
			lower, mult = strings.TrimSpace(strings.TrimSuffix(lower, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(lower, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return "", fmt.Errorf("%q is not a size: write bytes (1048576), a size with a unit (512MiB, 1GB) or -1 for no limit", s)
	}
	return strconv.FormatInt(n*mult, 10), nil
}

// NormalAge is an age in normal form (a Go duration, "0s" for no limit).
// It takes a Go duration (72h, 90m) or a whole number of days (7d); "" and
// "0" are no limit.
func NormalAge(s string) (string, error) {
	t := strings.TrimSpace(s)
	if t == "" || t == "0" {
		return "0s", nil
	}
	if days, ok := strings.CutSuffix(t, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 && n < 100000 {
			return (time.Duration(n) * 24 * time.Hour).String(), nil
		}
	}
	d, err := time.ParseDuration(t)
	if err != nil || d < 0 {
		return "", fmt.Errorf("%q is not an age: write a duration (72h, 90m), days (7d) or 0 for no limit", s)
	}
	return d.String(), nil
}
