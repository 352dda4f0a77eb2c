// Package redis is the infrastructure provider for Redis ACL users: one
// user per service and environment, confined to its key prefix. Redis
// rewrites ACL rules into its own form and keeps passwords only as SHA-256
// hashes, so the spec holds hashes (never a password) and Observe reports
// ACL GETUSER's answer normalised: patterns sorted, flags reduced to on/off.
package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/belay-dev/belay/internal/infra/provider"
	goredis "github.com/redis/go-redis/v9"
)

// KindACLUser is a Redis ACL user. Fields: enabled ("on"/"off"),
// password_sha256 (hex SHA-256 of each password, sorted, comma-separated),
// keys and channels (patterns as Redis writes them, "~p:*" / "&p:*",
// sorted, space-separated) and commands (the command rules in Redis's
// rewritten form, e.g. "+@all -@dangerous").
const KindACLUser = "redis_acl_user"

// Provider manages ACL users on one server.
type Provider struct {
	c *goredis.Client
}

var _ provider.Provider = (*Provider)(nil)

// New returns a provider for the server at adminURL (redis://user:pass@host:port/db),
// whose user may run ACL commands.
func New(adminURL string) (*Provider, error) {
	opt, err := goredis.ParseURL(adminURL)
	if err != nil {
		return nil, errors.New("redis: the administrator URL does not parse (check the secret that holds it)")
	}
	return &Provider{c: goredis.NewClient(opt)}, nil
}

// Kinds is the ACL user.
func (p *Provider) Kinds() []string { return []string{KindACLUser} }

// Close closes the connection pool.
func (p *Provider) Close() error { return p.c.Close() }

// Observe reads the user with ACL GETUSER.
func (p *Provider) Observe(ctx context.Context, r provider.Resource) (provider.Observation, error) {
	if r.Kind != KindACLUser {
		return provider.Observation{}, fmt.Errorf("redis: unknown kind %q", r.Kind)
	}
	v, err := p.c.Do(ctx, "ACL", "GETUSER", r.Name).Result()
	if errors.Is(err, goredis.Nil) {
		return provider.Observation{}, nil
	}
	if err != nil {
		return provider.Observation{}, fmt.Errorf("redis: observe ACL user %s: %w", r.Name, err)
	}
	m, err := asMap(v)
	if err != nil {
		return provider.Observation{}, fmt.Errorf("redis: ACL GETUSER %s: %w", r.Name, err)
	}
	if m == nil {
		return provider.Observation{}, nil
	}
	f := provider.Fields{"enabled": "off"}
	for _, fl := range strs(m["flags"]) {
		if fl == "on" {
			f["enabled"] = "on"
		}
	}
	hashes := strs(m["passwords"])
	slices.Sort(hashes)
	f["password_sha256"] = strings.Join(hashes, ",")
	f["keys"] = NormalPatterns(str(m["keys"]))
	f["channels"] = NormalPatterns(str(m["channels"]))
	f["commands"] = strings.Join(strings.Fields(str(m["commands"])), " ")
	return provider.Observation{Exists: true, Fields: f}, nil
}

// NormalPatterns sorts space-separated patterns.
func NormalPatterns(s string) string {
	ps := strings.Fields(s)
	slices.Sort(ps)
	return strings.Join(slices.Compact(ps), " ")
}

func asMap(v any) (map[string]any, error) {
	out := map[string]any{}
	switch v := v.(type) {
	case nil:
		return nil, nil
	case map[any]any: // RESP3
		for k, x := range v {
			out[fmt.Sprint(k)] = x
		}
	case []any: // RESP2: key, value, …
		for i := 0; i+1 < len(v); i += 2 {
			out[fmt.Sprint(v[i])] = v[i+1]
		}
	default:
		return nil, fmt.Errorf("unexpected answer %T", v)
	}
	return out, nil
}

func strs(v any) []string {
	xs, _ := v.([]any)
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

func str(v any) string {
	if v == nil {
		return ""
	}
	if xs, ok := v.([]any); ok { // Redis 6 answers lists
		return strings.Join(strs(xs), " ")
	}
	return fmt.Sprint(v)
}

// Create sets the user up from nothing; it is the same as Update, since
// ACL SETUSER with reset replaces every rule.
func (p *Provider) Create(ctx context.Context, r provider.Resource) error { return p.Update(ctx, r) }

// Update replaces the user's rules with the spec's.
func (p *Provider) Update(ctx context.Context, r provider.Resource) error {
	if r.Kind != KindACLUser {
		return fmt.Errorf("redis: unknown kind %q", r.Kind)
	}
	args := []any{"ACL", "SETUSER", r.Name, "reset"}
	switch e := r.Spec["enabled"]; e {
	case "on", "off":
		args = append(args, e)
	default:
		return fmt.Errorf("redis: ACL user %s: enabled %q is not on or off", r.Name, e)
	}
	for _, h := range strings.Split(r.Spec["password_sha256"], ",") {
		if h == "" {
			continue
		}
		if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
			return fmt.Errorf("redis: ACL user %s: a password hash is not 64 lower-case hex digits", r.Name)
		}
		args = append(args, "#"+h)
	}
	for _, field := range []string{"keys", "channels", "commands"} {
		for _, rule := range strings.Fields(r.Spec[field]) {
			args = append(args, rule)
		}
	}
	if err := p.c.Do(ctx, args...).Err(); err != nil {
		return fmt.Errorf("redis: set ACL user %s: %w", r.Name, err)
	}
	return nil
}

// Delete removes the user (ACL DELUSER answers 0 for a missing one).
func (p *Provider) Delete(ctx context.Context, r provider.Resource) error {
	if r.Kind != KindACLUser {
		return fmt.Errorf("redis: unknown kind %q", r.Kind)
	}
	if err := p.c.Do(ctx, "ACL", "DELUSER", r.Name).Err(); err != nil {
		return fmt.Errorf("redis: delete ACL user %s: %w", r.Name, err)
	}
	return nil
}
