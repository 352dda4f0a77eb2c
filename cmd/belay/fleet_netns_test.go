package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/loadgen"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/target/local"
)

// fleetHost is one host of the test's fleet: a network namespace joined to
// this one by a veth pair on 10.213.N.0/30, running `belay agent` with its
// API on TCP and TLS.
type fleetHost struct {
	name, ns, vethHost, vethNS string
	hostIP, nsIP               string
	state, cert, token         string
	agent                      *exec.Cmd
}

func (h *fleetHost) api() string   { return net.JoinHostPort(h.nsIP, "7070") }
func (h *fleetHost) proxy() string { return net.JoinHostPort(h.nsIP, "18090") }

// sh runs a command, failing the test with its output.
func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// needRoot skips (or, under CI=true, fails) a test that must make network
// namespaces.
func needRoot(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "not root: network namespaces and veth pairs need root (run as root, e.g. sudo -E go test -run TestFleet ./cmd/belay)"
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "the ip command (iproute2) is not installed"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// newFleetHost makes namespace and veth pair number n (10.213.n.0/30),
// removing them when the test ends, even when it fails.
func newFleetHost(t *testing.T, n int, name string) *fleetHost {
	t.Helper()
	tag := fmt.Sprintf("bf%d%s", os.Getpid()%100000, name)
	h := &fleetHost{name: name, ns: "belay-" + tag, vethHost: tag + "h", vethNS: tag + "n",
		hostIP: fmt.Sprintf("10.213.%d.1", n), nsIP: fmt.Sprintf("10.213.%d.2", n)}
	if out, _ := exec.Command("ip", "-4", "-o", "addr", "show", "to", fmt.Sprintf("10.213.%d.0/30", n)).CombinedOutput(); len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("10.213.%d.0/30, which this test uses, is already on an interface here:\n%s", n, out)
	}
	sh(t, "ip", "netns", "add", h.ns)
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", h.vethHost).Run()
		if out, err := exec.Command("ip", "netns", "del", h.ns).CombinedOutput(); err != nil {
			t.Errorf("cleanup: ip netns del %s: %v %s", h.ns, err, out)
		}
	})
	sh(t, "ip", "link", "add", h.vethHost, "type", "veth", "peer", "name", h.vethNS)
	sh(t, "ip", "link", "set", h.vethNS, "netns", h.ns)
	sh(t, "ip", "addr", "add", h.hostIP+"/30", "dev", h.vethHost)
	sh(t, "ip", "link", "set", h.vethHost, "up")
	sh(t, "ip", "netns", "exec", h.ns, "ip", "addr", "add", h.nsIP+"/30", "dev", h.vethNS)
	sh(t, "ip", "netns", "exec", h.ns, "ip", "link", "set", h.vethNS, "up")
	sh(t, "ip", "netns", "exec", h.ns, "ip", "link", "set", "lo", "up")
	return h
}

// startFleetAgent runs `belay agent` inside h's namespace with its API on
// h.api() over TLS (self-signed, pinned by the server) and waits until it
// answers from here.
func (r *crashRig) startFleetAgent(h *fleetHost) {
	t := r.t
	t.Helper()
	h.state = filepath.Join(r.home, "agent-"+h.name) // belay.yaml's ca_file: .belay/agent-NAME/api.crt
	h.cert = filepath.Join(h.state, "api.crt")
	f, err := os.OpenFile(filepath.Join(r.home, "agent-"+h.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := exec.Command("ip", "netns", "exec", h.ns, r.bin, "agent", "--home", r.home, "-f", "belay.yaml",
		"--state", h.state, "--socket", filepath.Join(h.state, "agent.sock"), "--stop-on-exit",
		"--listen-api", h.api(), "--tls-self-signed")
	c.Dir, c.Stdout, c.Stderr = r.proj, f, f
	c.Env = append(r.env, "BELAY_AGENT_TOKEN="+h.token)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	h.agent = c
	t.Cleanup(func() { stopProc(c) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(h.cert); err == nil {
			if cl, err := local.TLS(h.api(), h.token, h.cert); err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_, err = cl.Observe(ctx, "production", "hello")
				cancel()
				if err == nil || !strings.Contains(err.Error(), "unreachable") {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent %s does not answer on %s; see %s", h.name, h.api(), f.Name())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func stopProc(c *exec.Cmd) {
	if c.ProcessState != nil {
		return
	}
	_ = syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// fleetYAML puts production on hosts a and b (proxies on 0.0.0.0:18090 in
// their namespaces; each host's certificate pinned from the state directory
// its agent makes it in), staging on the local agent at staging.
func fleetYAML(t *testing.T, y, staging string, hosts []*fleetHost) string {
	var b strings.Builder
	b.WriteString("0.0.0.0:18090\n    hosts:\n")
	for _, h := range hosts {
		fmt.Fprintf(&b, "      - {name: %s, api: %q, token_env: BELAY_FLEET_TOKEN_%s, ca_file: %s}\n", h.name, h.api(), strings.ToUpper(h.name), ".belay/agent-"+h.name+"/api.crt")
	}
	for _, e := range [][2]string{
		{"127.0.0.1:18081", staging},
		{"127.0.0.1:18082   # last in promotion order: treated as production\n", b.String()},
		{"      production:\n        instances: 2\n", "      production:\n        instances: 1\n"},
	} {
		if !strings.Contains(y, e[0]) {
			t.Fatalf("examples/hello/belay.yaml no longer contains %q; update the fleet test", e[0])
		}
		y = strings.Replace(y, e[0], e[1], 1)
	}
	return y
}

// TestFleetHostCutOffMidCanary is issue 14's "Done means" for several
// hosts: production runs on two hosts, each a network namespace with its
// own `belay agent` (API on TCP+TLS, token) and proxy. A release goes
// through staging (the local agent) and production (the fleet); mid-canary
// host b's link goes down: the rollout must hold (neither promote nor roll
// back) and say that b is unknown; once the link is back, b is brought to
// the desired state and the rollout finishes.
func TestFleetHostCutOffMidCanary(t *testing.T) {
	if testing.Short() {
		t.Skip("makes network namespaces, builds belay and examples/hello and runs a release on two hosts")
	}
	needRoot(t)
	began := time.Now()
	hosts := []*fleetHost{newFleetHost(t, 1, "a"), newFleetHost(t, 2, "b")}
	staging := freePort(t)
	for _, h := range hosts {
		h.token = "fleet-test-" + h.name // a test's bearer token, not a secret
	}
	r := newCrashRig(t, func(y string) string { return fleetYAML(t, y, staging, hosts) })
	for _, h := range hosts {
		r.env = append(r.env, "BELAY_FLEET_TOKEN_"+strings.ToUpper(h.name)+"="+h.token)
	}
	r.run(r.bin, "keys", "create")
	v1 := r.commit("v1")
	editFile(t, filepath.Join(r.proj, "main.go"), `"service": "hello",`, `"service": "hello", "greeting": "hi",`)
	v2 := r.commit("v2")
	t.Logf("built belay, %s and %s in %s", v1, v2, time.Since(began).Round(time.Millisecond))
	if err := os.MkdirAll(r.home, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		r.startFleetAgent(h)
	}
	r.start()

	r.run(r.bin, "release", "hello", v1)
	if v := r.follow(r.rolloutOf("production", v1), false); v.Phase != "Succeeded" {
		t.Fatalf("v1 in production ended %s: %s", v.Phase, v.state().Reason)
	}
	for _, h := range hosts {
		r.expectOn(h, v1)
	}

	loads := map[string]*loadgen.Load{}
	startLoad := func(h *fleetHost) {
		loads[h.name] = loadgen.Start("http://"+h.proxy()+"/", loadgen.Options{Rate: 60, Header: api.VersionHeader, Client: &http.Client{Timeout: 5 * time.Second}})
	}
	for _, h := range hosts {
		startLoad(h)
	}
	defer func() {
		for _, l := range loads {
			l.Stop()
		}
	}()
	out := r.run(r.bin, "release", "hello", v2)
	if !strings.Contains(out, "staging") {
		t.Fatalf("release %s: %q", v2, out)
	}
	id := r.rolloutOf("production", v2)
	// Mid-canary: the first step's weights in force on both hosts.
	s := r.waitRollout(id, "the first canary step in force", func(s rollout.State) bool {
		return s.Phase == rollout.Canary && s.Step == 0 && !s.StepStarted.IsZero()
	})
	if s.Phase != rollout.Canary {
		t.Fatalf("rollout %d is %s before the cut", id, s.Phase)
	}
	b := hosts[1]
	loads["b"].Stop()
	cut := time.Now()
	sh(t, "ip", "link", "set", b.vethHost, "down")
	linkDown := true
	t.Cleanup(func() {
		if linkDown {
			_ = exec.Command("ip", "link", "set", b.vethHost, "up").Run()
		}
	})
	s = r.waitRollout(id, "the hold naming host b", func(s rollout.State) bool { return len(s.Held) > 0 })
	heldAfter := time.Since(cut)
	if !strings.Contains(s.Reason, "host b unknown") || s.Phase != rollout.Canary {
		t.Fatalf("holding rollout %d: %s, %q", id, s.Phase, s.Reason)
	}
	// Without the hold the two remaining steps (5 s each) would be done in
	// 10 s: 15 s later it must still be at the step it was cut off in.
	time.Sleep(15 * time.Second)
	var v rolloutView
	if err := r.get(fmt.Sprintf("/api/v1/rollouts/%d", id), &v); err != nil {
		t.Fatal(err)
	}
	if st := v.state(); st.Phase != rollout.Canary || st.Step != 0 || len(st.Held) != 1 || st.Held[0] != "b" {
		t.Fatalf("with host b cut off for 15 s rollout %d moved: %s step %d held %v: %s", id, st.Phase, st.Step+1, st.Held, st.Reason)
	}
	explain := r.run(r.bin, "explain", strconv.FormatInt(id, 10))
	if !strings.Contains(explain, "host b unknown") {
		t.Fatalf("belay explain does not say host b is unknown:\n%s", explain)
	}
	sh(t, "ip", "link", "set", b.vethHost, "up")
	linkDown = false
	restored := time.Now()
	startLoad(b)
	v = r.follow(id, false)
	finished := time.Since(restored)
	if v.Phase != "Succeeded" {
		t.Fatalf("after host b came back rollout %d ended %s: %s\n%s", id, v.Phase, v.state().Reason, r.run(r.bin, "explain", strconv.FormatInt(id, 10)))
	}
	back := false
	for _, tr := range v.Transitions {
		back = back || tr.Cause == rollout.Held && strings.Contains(tr.Reason, "host b answers again")
	}
	if !back {
		t.Fatalf("no transition of rollout %d says host b answers again:\n%s", id, v.path())
	}
	for _, h := range hosts {
		r.expectOn(h, v2)
	}
	time.Sleep(500 * time.Millisecond)
	la, lb := loads["a"].Stop(), loads["b"].Stop()
	badA, _ := la.Except()
	badB, _ := lb.Except()
	t.Logf("host a: %d requests, %d failed; host b after its return: %d requests, %d failed, by version %v",
		la.Sent, len(badA), lb.Sent, len(badB), lb.ByVersion)
	t.Logf("hold recorded %s after the cut; rollout finished %s after the link came back; whole test %s",
		heldAfter.Round(time.Millisecond), finished.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	if len(badA) > 0 {
		t.Errorf("host a, never cut off, failed requests: %v", badA[:min(len(badA), 10)])
	}
	if lb.ByVersion[v2].Total == 0 {
		t.Errorf("host b's proxy never served %s after it came back: %v", v2, lb.ByVersion)
	}
}

// waitRollout polls rollout id until ok holds for its state (60 s at most).
func (r *crashRig) waitRollout(id int64, what string, ok func(rollout.State) bool) rollout.State {
	r.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last rollout.State
	for time.Now().Before(deadline) {
		var v rolloutView
		if err := r.get(fmt.Sprintf("/api/v1/rollouts/%d", id), &v); err == nil {
			last = v.state()
			if ok(last) || v.Terminal {
				return last
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.t.Fatalf("rollout %d: no %s after 60 s; it is %s: %s", id, what, last.Phase, last.Reason)
	return last
}

// expectOn checks that host h's agent runs version alone at 100 %.
func (r *crashRig) expectOn(h *fleetHost, version string) {
	r.t.Helper()
	c, err := local.TLS(h.api(), h.token, h.cert)
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	o, err := c.Observe(ctx, "production", "hello")
	if err != nil {
		r.t.Fatalf("host %s: %v", h.name, err)
	}
	if len(o.Versions) != 1 || o.Versions[0].Version != version || o.Versions[0].Weight != 100 || o.Versions[0].Ready < 1 {
		r.t.Fatalf("host %s runs %+v, want %s alone at 100 %%", h.name, o.Versions, version)
	}
	if !regexp.MustCompile(`:18090$`).MatchString(o.Listen) {
		r.t.Fatalf("host %s's proxy listens on %s", h.name, o.Listen)
	}
}
