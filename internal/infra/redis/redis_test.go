package redis_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/infra/provider"
	"github.com/belay-dev/belay/internal/infra/providertest"
	"github.com/belay-dev/belay/internal/infra/redis"
	"github.com/belay-dev/belay/internal/testenv"
	goredis "github.com/redis/go-redis/v9"
)

func hash(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

// TestProvider runs the shared provider suite against a real redis-server.
func TestProvider(t *testing.T) {
	url := testenv.Redis(t)
	p, err := redis.New(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	name := fmt.Sprintf("svc%d:staging", time.Now().UnixNano())
	spec := provider.Fields{"enabled": "on", "password_sha256": hash("one"), "keys": "~" + name + ":*",
		"channels": "&" + name + ":*", "commands": "+@all -@dangerous"}
	changed := provider.Fields{"enabled": "on", "password_sha256": hash("two"), "keys": "~" + name + ":*",
		"channels": "&" + name + ":*", "commands": "+@all -@dangerous"}
	providertest.Run(t, p, providertest.Case{
		Resources: []provider.Resource{{Kind: redis.KindACLUser, Name: name, Spec: spec}},
		Changed:   []provider.Resource{{Kind: redis.KindACLUser, Name: name, Spec: changed}},
		Tamper: func(ctx context.Context, t *testing.T) (int, string) {
			opt, _ := goredis.ParseURL(url)
			c := goredis.NewClient(opt)
			defer c.Close()
			if err := c.Do(ctx, "ACL", "SETUSER", name, "~*").Err(); err != nil { // widened by hand
				t.Fatal(err)
			}
			return 0, "keys"
		},
	})
}

// TestConfinedToPrefix: the user set up reads and writes its own prefix
// and is refused any other key.
func TestConfinedToPrefix(t *testing.T) {
	url := testenv.Redis(t)
	ctx := t.Context()
	p, err := redis.New(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	name := fmt.Sprintf("svc%d:production", time.Now().UnixNano())
	r := provider.Resource{Kind: redis.KindACLUser, Name: name, Spec: provider.Fields{"enabled": "on", "password_sha256": hash("pw"),
		"keys": "~" + name + ":*", "channels": "&" + name + ":*", "commands": "+@all -@dangerous"}}
	if err := p.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Delete(context.Background(), r) })
	opt, _ := goredis.ParseURL(url)
	opt.Username, opt.Password = name, "pw"
	c := goredis.NewClient(opt)
	defer c.Close()
	if err := c.Set(ctx, name+":k", "v", 0).Err(); err != nil {
		t.Fatalf("own prefix refused: %v", err)
	}
	if err := c.Set(ctx, "other:k", "v", 0).Err(); err == nil {
		t.Fatal("a key outside the prefix was written")
	}
}
