package fleet_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/agent"
	"github.com/belay-dev/belay/internal/agent/agenttest"
	"github.com/belay-dev/belay/internal/apitls"
	"github.com/belay-dev/belay/internal/target"
	"github.com/belay-dev/belay/internal/target/fleet"
	"github.com/belay-dev/belay/internal/target/local"
	"github.com/belay-dev/belay/internal/target/targettest"
)

const token = "fleet-test-token" // a test's bearer token, not a secret

func version(name string, weight float64, env ...string) target.Version {
	e := map[string]string{"VERSION": name}
	for i := 0; i+1 < len(env); i += 2 {
		e[env[i]] = env[i+1]
	}
	return target.Version{
		Version: name, Artifact: "hello:" + name, Instances: 1, Weight: weight,
		Run:    target.Run{Command: "hello", Env: e, GracePeriod: 3 * time.Second},
		Health: target.Health{HTTPPath: "/healthz", Interval: 100 * time.Millisecond, UnhealthyThreshold: 2, HealthTimeout: 10 * time.Second},
	}
}

// startAgent runs an agent in this process serving its API on loopback
// TCP over TLS with a self-signed certificate, and returns a client that
// pins it.
func startAgent(t *testing.T, name string) (fleet.Host, net.Listener, string) {
	t.Helper()
	dir := t.TempDir()
	a, err := agent.New(agent.Config{StateDir: dir, Opener: agenttest.HelloOpener{}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(true) })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cert, key, err := apitls.SelfSigned(dir, "127.0.0.1", time.Now(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	conf, err := apitls.ServerConfig(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	l, err := a.ServeTCP(ctx, "127.0.0.1:0", token, conf)
	if err != nil {
		t.Fatal(err)
	}
	c, err := local.TLS(l.Addr().String(), token, cert)
	if err != nil {
		t.Fatal(err)
	}
	return fleet.Host{Name: name, Address: l.Addr().String(), Agent: c}, l, cert
}

func TestSuite(t *testing.T) {
	a, _, _ := startAgent(t, "a")
	b, _, _ := startAgent(t, "b")
	f, err := fleet.New([]fleet.Host{a, b})
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	targettest.Run(t, targettest.Harness{
		Target: f,
		Base:   target.Desired{Environment: "test", Service: "hello", Listen: "127.0.0.1:0", VersionHeader: "X-Belay-Version", DrainTimeout: 5 * time.Second},
		Good:   func(n string, w float64) target.Version { return version(n, w) },
		Sick: func(n string, w float64) target.Version {
			v := version(n, w, "HEALTH", "fail")
			v.Health.HealthTimeout = time.Second
			return v
		},
		Missing: func(n string, w float64) target.Version { v := version(n, w); v.Artifact = "missing:" + n; return v },
		// Requests go to each host's proxy in turn: every host serves the split.
		Request: func(o target.Observed) (string, error) {
			if len(o.Hosts) != 2 {
				return "", fmt.Errorf("observed %d hosts, want 2", len(o.Hosts))
			}
			h := o.Hosts[n.Add(1)%2]
			if h.Listen == "" {
				return "", fmt.Errorf("host %s serves nothing", h.Name)
			}
			resp, err := http.Get("http://" + h.Listen + "/")
			if err != nil {
				return "", err
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return "", fmt.Errorf("host %s: status %d", h.Name, resp.StatusCode)
			}
			return resp.Header.Get("X-Belay-Version"), nil
		},
	})
}

// TestSummedCounters checks that the fleet's counters are the sum of its
// hosts' own.
func TestSummedCounters(t *testing.T) {
	a, _, _ := startAgent(t, "a")
	b, _, _ := startAgent(t, "b")
	f, _ := fleet.New([]fleet.Host{a, b})
	ctx := context.Background()
	d := target.Desired{Environment: "test", Service: "hello", Listen: "127.0.0.1:0", VersionHeader: "X-Belay-Version", Versions: []target.Version{version("v1", 100)}}
	if err := f.Apply(ctx, d); err != nil {
		t.Fatal(err)
	}
	o, err := f.Observe(ctx, "test", "hello")
	if err != nil {
		t.Fatal(err)
	}
	if o.Versions[0].Instances != 2 || o.Versions[0].Ready != 2 {
		t.Fatalf("observed %+v, want 2 instances ready over 2 hosts", o.Versions[0])
	}
	for k, h := range o.Hosts {
		for range 3 + 4*k { // 3 to a, 7 to b
			resp, err := http.Get("http://" + h.Listen + "/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ca, _ := a.Agent.Counters(ctx, "test", "hello")
		cb, _ := b.Agent.Counters(ctx, "test", "hello")
		cs, err := f.Counters(ctx, "test", "hello")
		if err != nil {
			t.Fatal(err)
		}
		if len(ca) == 1 && len(cb) == 1 && ca[0].Requests == 3 && cb[0].Requests == 7 {
			if cs[0].Requests != 10 {
				t.Fatalf("summed %d requests, want 10", cs[0].Requests)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hosts counted %+v and %+v", ca, cb)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestUnknownHostThenBack: a host whose agent cannot be reached is unknown
// (Apply fails naming it, Unknown reports it, its instances count as not
// ready); once it answers again it is brought to the desired state.
func TestUnknownHostThenBack(t *testing.T) {
	a, _, _ := startAgent(t, "a")
	b, lb, bcert := startAgent(t, "b")
	// b is reached through a relay the test cuts and restores.
	relay := newRelay(t, lb.Addr().String())
	bc, err := local.TLS(relay.addr(), token, bcert)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := fleet.New([]fleet.Host{a, {Name: "b", Address: relay.addr(), Agent: bc}})
	ctx := context.Background()
	d := target.Desired{Environment: "test", Service: "hello", Listen: "127.0.0.1:0", VersionHeader: "X-Belay-Version", Versions: []target.Version{version("v1", 100)}}
	if err := f.Apply(ctx, d); err != nil {
		t.Fatal(err)
	}
	relay.cut()
	d.Versions = []target.Version{version("v1", 80), version("v2", 20)}
	err = f.Apply(ctx, d)
	if !errors.Is(err, fleet.ErrUnknownHost) || !strings.Contains(err.Error(), "unknown host b") {
		t.Fatalf("apply with b cut off: %v", err)
	}
	if u := f.Unknown(ctx, "test"); len(u) != 1 || u[0].Name != "b" || !u[0].Unknown {
		t.Fatalf("unknown %+v", u)
	}
	o, err := f.Observe(ctx, "test", "hello")
	if err != nil {
		t.Fatal(err)
	}
	if !o.Hosts[1].Unknown || o.Versions[0].Ready >= o.Versions[0].Instances {
		t.Fatalf("with b unknown observed %+v", o)
	}
	if _, err := f.Counters(ctx, "test", "hello"); err == nil {
		t.Fatal("counters summed without host b")
	}
	relay.restore()
	if u := f.Unknown(ctx, "test"); len(u) != 0 {
		t.Fatalf("after b came back: unknown %+v", u)
	}
	ob, err := b.Agent.Observe(ctx, "test", "hello")
	if err != nil {
		t.Fatal(err)
	}
	if len(ob.Versions) != 2 {
		t.Fatalf("b was not brought to the desired state: %+v", ob)
	}
}

// gatedAgent holds its first Apply of a desired state that gate picks until
// release is closed, and says when another desired state reaches it.
type gatedAgent struct {
	fleet.Agent
	gate    func(target.Desired) bool
	armed   atomic.Bool
	held    chan struct{} // closed when the gated Apply is waiting
	release chan struct{}
	other   chan target.Desired // every other Apply that reaches the agent
	once    sync.Once
}

func (g *gatedAgent) Apply(ctx context.Context, d target.Desired) error {
	if !g.armed.Load() {
		return g.Agent.Apply(ctx, d)
	}
	if g.gate(d) {
		first := false
		g.once.Do(func() { first = true })
		if first {
			close(g.held)
			<-g.release
		}
	} else {
		select {
		case g.other <- d:
		default:
		}
	}
	return g.Agent.Apply(ctx, d)
}

// TestReapplyDoesNotOvertakeApply: a host that answers again is brought to
// the desired state while a rollout applies a newer one; the host must end
// on the newer one, whichever call reaches it first.
func TestReapplyDoesNotOvertakeApply(t *testing.T) {
	a, _, _ := startAgent(t, "a")
	_, lb, bcert := startAgent(t, "b")
	relay := newRelay(t, lb.Addr().String())
	bc, err := local.TLS(relay.addr(), token, bcert)
	if err != nil {
		t.Fatal(err)
	}
	canary := func(d target.Desired) bool { return len(d.Versions) == 2 }
	g := &gatedAgent{Agent: bc, gate: canary, held: make(chan struct{}), release: make(chan struct{}), other: make(chan target.Desired, 1)}
	f, _ := fleet.New([]fleet.Host{a, {Name: "b", Address: relay.addr(), Agent: g}})
	ctx := context.Background()
	d := target.Desired{Environment: "test", Service: "hello", Listen: "127.0.0.1:0", VersionHeader: "X-Belay-Version", Versions: []target.Version{version("v1", 100)}}
	if err := f.Apply(ctx, d); err != nil {
		t.Fatal(err)
	}
	relay.cut()
	d.Versions = []target.Version{version("v1", 80), version("v2", 20)}
	if err := f.Apply(ctx, d); !errors.Is(err, fleet.ErrUnknownHost) {
		t.Fatalf("apply with b cut off: %v", err)
	}
	relay.restore()
	g.armed.Store(true)
	// b answers again: the check re-applies the canary to it, and is held there.
	unknownDone := make(chan []target.HostState)
	go func() { unknownDone <- f.Unknown(ctx, "test") }()
	<-g.held
	// Meanwhile the rollout promotes.
	promoted := d
	promoted.Versions = []target.Version{version("v2", 100)}
	applyDone := make(chan error)
	go func() { applyDone <- f.Apply(ctx, promoted) }()
	select {
	case <-g.other: // the promotion reached b before the held re-apply finished: the bug this test is about
	case <-time.After(2 * time.Second): // not a timing assertion: the promotion waits for b's lock
	}
	close(g.release)
	if u := <-unknownDone; len(u) != 0 {
		t.Fatalf("unknown after b came back: %+v", u)
	}
	if err := <-applyDone; err != nil {
		t.Fatal(err)
	}
	ob, err := bc.Observe(ctx, "test", "hello")
	if err != nil {
		t.Fatal(err)
	}
	if len(ob.Versions) != 1 || ob.Versions[0].Version != "v2" || ob.Versions[0].Weight != 100 {
		t.Fatalf("b ended on %+v, want v2 at 100%% (the older canary state landed last)", ob.Versions)
	}
}
