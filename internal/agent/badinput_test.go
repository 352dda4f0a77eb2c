package agent

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/target"
)

func TestBadInputLeavesServingVersionAlone(t *testing.T) {
	a := newAgent(t, "")
	url := apply(t, a, desired(hello("v1", 100, 1)))
	ctx := context.Background()
	stillV1 := func(what string) {
		t.Helper()
		if v, err := served(http.DefaultClient, url); err != nil || v != "v1" {
			t.Fatalf("after %s: served %q, %v", what, v, err)
		}
		if o := observed(t, a); o.Version != "v1" || o.Weight != 100 || o.Ready != 1 {
			t.Fatalf("after %s: observed %+v", what, o)
		}
	}

	missing := hello("v2", 100, 1)
	missing.Artifact = "registry.example/nothing@sha256:00"
	err := a.Apply(ctx, desired(missing))
	if !errors.Is(err, target.ErrArtifact) || !strings.Contains(err.Error(), "nothing@sha256:00") {
		t.Fatalf("missing artifact: %v", err)
	}
	stillV1("a missing artifact")

	sick := hello("v2", 100, 1, "HEALTH", "fail")
	sick.Health.HealthTimeout = time.Second
	start := time.Now()
	err = a.Apply(ctx, desired(sick))
	if !errors.Is(err, target.ErrUnhealthy) || !strings.Contains(err.Error(), "hello v2 listening on") {
		t.Fatalf("never healthy: want ErrUnhealthy with the instance's log lines, got %v", err)
	}
	if d := time.Since(start); d < time.Second || d > 5*time.Second {
		t.Fatalf("never-healthy apply took %v with health_timeout 1s", d)
	}
	stillV1("a never-healthy version")

	noCmd := hello("v2", 100, 1)
	noCmd.Run.Command = "no-such-command-anywhere"
	if err := a.Apply(ctx, desired(noCmd)); !errors.Is(err, target.ErrInvalid) {
		t.Fatalf("unknown command: %v", err)
	}
	bad := desired(hello("v1", 60, 1), hello("v2", 30, 1))
	if err := a.Apply(ctx, bad); !errors.Is(err, target.ErrInvalid) || !strings.Contains(err.Error(), "add up to 90%") {
		t.Fatalf("weights: %v", err)
	}
	stillV1("invalid input")
}

func TestPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	a := newAgent(t, "")
	d := desired(hello("v1", 100, 1))
	d.Listen = l.Addr().String()
	err = a.Apply(context.Background(), d)
	if !errors.Is(err, target.ErrInvalid) || !strings.Contains(err.Error(), "another process holds this address") {
		t.Fatalf("port in use: %v", err)
	}
}
