package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/loadgen"
	"github.com/belay-dev/belay/internal/testenv"
)

// browser is a headless Chromium on the dashboard, recording every request
// the pages make.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string // where screenshots go
	shot int

	mu       sync.Mutex
	requests []string
}

func newBrowser(t *testing.T, bin, base string) *browser {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.WindowSize(1280, 1000))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	out := os.Getenv("BELAY_TEST_OUTPUT")
	if out == "" {
		out = filepath.Join(os.TempDir(), "belay-test-output")
	}
	b := &browser{t: t, ctx: ctx, base: base, dir: filepath.Join(out, "dashboard")}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			b.mu.Lock()
			b.requests = append(b.requests, e.Request.URL)
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("start chromium (%s): %v", bin, err)
	}
	return b
}

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.screenshot("failed-" + what)
		b.t.Fatalf("browser: %s: %v", what, err)
	}
}

func eval[T any](b *browser, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("browser: evaluate %s: %v", js, err)
	}
	return v
}

// screenshot saves the page as it is, as test output.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	b.shot++
	path := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.shot, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

// liveState is what the live rollout view shows now.
type liveState struct {
	Phase     string `json:"phase"`
	Step      int    `json:"step"`
	Kept      bool   `json:"kept"` // the page was not reloaded since the mark was set
	Rate      string `json:"rate"`
	Points    int    `json:"points"`
	Rollbacks int    `json:"rollbacks"`
	Markers   int    `json:"markers"`
}

const liveJS = `(() => {
  const l = document.querySelector('.live');
  const p = document.querySelector('polyline[data-role="new"]');
  const r = document.querySelector('#versions tr[data-version] td.rate');
  return {phase: l ? l.dataset.phase : '', step: l ? Number(l.dataset.step) : 0, kept: window.__belayKept === true,
    rate: r ? r.textContent : '', points: p ? Number(p.dataset.points) : 0,
    rollbacks: document.querySelectorAll('.marker[data-kind="rollback"]').length,
    markers: document.querySelectorAll('.marker').length};
})()`

// watch opens rollout id's page, marks the window, and polls what it shows
// until done says so; a reload would drop the mark. It returns the states
// seen, in order, without repeats.
func (b *browser) watch(id int64, name string, done func(liveState) bool) []liveState {
	b.t.Helper()
	b.do("open rollout", chromedp.Navigate(fmt.Sprintf("%s/rollouts/%d", b.base, id)), chromedp.WaitVisible(chromedp.CSS(".live")))
	eval[bool](b, `window.__belayKept = true`)
	var seen []liveState
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		s := eval[liveState](b, liveJS)
		if !s.Kept {
			b.t.Fatalf("rollout %d's page was reloaded: the live view must update in place", id)
		}
		if len(seen) == 0 || seen[len(seen)-1].Phase != s.Phase || seen[len(seen)-1].Step != s.Step {
			seen = append(seen, s)
			b.screenshot(fmt.Sprintf("%s-%s-step%d", name, s.Phase, s.Step))
		} else {
			seen[len(seen)-1] = s
		}
		if done(s) {
			return seen
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.screenshot(name + "-timeout")
	b.t.Fatalf("rollout %d: the page did not get there in 3m; it showed %+v", id, seen)
	return nil
}

// TestDashboardInBrowser drives the dashboard in headless Chromium against
// a real `belay server` and agent running real releases of examples/hello:
// log in with a token, approve a release waiting for production by
// clicking, watch a canary advance in place, and see a bad version rolled
// back with its marker on the chart. No request of the pages leaves
// 127.0.0.1.
func TestDashboardInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("builds belay and examples/hello, runs real releases and a browser")
	}
	chromium := testenv.ChromiumBin(t)
	staging, production := freePort(t), freePort(t)
	r := newCrashRig(t, func(y string) string {
		return crashYAML(t, y, staging, production) + "    protection:\n      require_approval: true\n"
	})
	r.run(r.bin, "keys", "create")
	v1 := r.commit("v1")
	editFile(t, filepath.Join(r.proj, "main.go"), `"service": "hello",`, `"service": "hello", "greeting": "hi",`)
	v2 := r.commit("v2")
	bug := "package main\n\n// Under load, 30 % of requests fail.\nfunc init() { bugErrorRate, bugAfter = 0.3, 20 }\n"
	if err := os.WriteFile(filepath.Join(r.proj, "bug.go"), []byte(bug), 0o644); err != nil {
		t.Fatal(err)
	}
	v3 := r.commit("v3")
	r.start()
	m := regexp.MustCompile(`(?m)^(belay_\S+)$`).FindStringSubmatch(r.run(r.bin, "token", "create", "--name", "dave", "--role", "approver", "--reason", "dashboard test"))
	if m == nil {
		t.Fatal("belay token create printed no token")
	}
	dave := m[1]

	b := newBrowser(t, chromium, r.api)
	// Log in: a page sends to the login form, the token opens the session.
	b.do("login page", chromedp.Navigate(r.api+"/approvals"), chromedp.WaitVisible(chromedp.ID("token")))
	b.screenshot("login")
	b.do("log in", chromedp.SendKeys(chromedp.ID("token"), dave), chromedp.Click(chromedp.ID("login")), chromedp.WaitVisible(chromedp.ID("waiting")))
	if who := eval[string](b, `document.getElementById('whoami').textContent`); !strings.Contains(who, "dave · approver") {
		t.Fatalf("logged in as %q", who)
	}

	release := func(v string) string {
		out := r.run(r.bin, "release", "hello", v)
		m := regexp.MustCompile(`(?m)^release (\d+): `).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("release %s: %q", v, out)
		}
		return m[1]
	}
	// Each release waits for approval in production; dave approves it with
	// the button (the releaser, admin, may not approve its own).
	approve := func(rel string, shots bool) {
		id := fmt.Sprintf("approve-%s-production", rel)
		deadline := time.Now().Add(2 * time.Minute)
		for {
			b.do("approvals", chromedp.Navigate(r.api+"/approvals"), chromedp.WaitVisible(chromedp.ID("waiting")))
			if eval[bool](b, fmt.Sprintf(`document.getElementById(%q) !== null`, id)) {
				break
			}
			if time.Now().After(deadline) {
				b.screenshot("no-approval")
				t.Fatalf("release %s never showed as waiting for approval in production", rel)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if eval[bool](b, fmt.Sprintf(`document.getElementById(%q).disabled`, id)) {
			t.Fatal("the approver's approve button is disabled")
		}
		if shots {
			b.screenshot("approval-waiting")
		}
		b.do("approve", chromedp.Click(chromedp.ID(id)), chromedp.WaitVisible(chromedp.ID("flash-ok")))
		if shots {
			b.screenshot("approved")
		}
	}
	rel1 := release(v1)
	id1 := r.rolloutOf("production", v1)
	approve(rel1, true)
	if v := r.follow(id1, false); v.Phase != "Succeeded" {
		t.Fatalf("v1 in production, approved in the browser, ended %s", v.Phase)
	}
	var audit []api.AuditEntry
	if err := r.get("/api/v1/audit?limit=10000", &audit); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(audit, func(e api.AuditEntry) bool { return e.Actor == "dave" && strings.Contains(e.Action, "approv") }) {
		t.Fatalf("no approval by dave in the audit log: %+v", audit)
	}

	// A canary of v2 under load: the page follows its steps in place.
	load := loadgen.Start("http://"+production+"/", loadgen.Options{Rate: 100, Header: api.VersionHeader, Client: &http.Client{Timeout: 10 * time.Second}})
	defer load.Stop()
	rel2 := release(v2)
	approve(rel2, false)
	id2 := r.rolloutOf("production", v2)
	var measured, charted bool
	seen := b.watch(id2, "canary", func(s liveState) bool {
		measured = measured || strings.HasSuffix(s.Rate, "/s") && s.Rate != "0.0/s"
		charted = charted || s.Points > 0
		return s.Phase == "Succeeded"
	})
	var steps []int
	for _, s := range seen {
		if s.Phase == "Canary" && !slices.Contains(steps, s.Step) {
			steps = append(steps, s.Step)
		}
	}
	if len(steps) < 2 {
		t.Fatalf("the page showed canary steps %v of v2 (want the canary to advance in place); states %+v", steps, seen)
	}
	if !measured || !charted {
		t.Fatalf("the live view showed no request rate (%v) or no chart points (%v) for v2 under load", measured, charted)
	}

	// v3 fails under load: the page shows the rollback and its marker.
	rel3 := release(v3)
	approve(rel3, false)
	id3 := r.rolloutOf("production", v3)
	seen = b.watch(id3, "rollback", func(s liveState) bool { return s.Phase == "RolledBack" })
	last := seen[len(seen)-1]
	if last.Rollbacks == 0 {
		t.Fatalf("v3 rolled back, but its chart has no rollback marker: %+v", last)
	}
	b.screenshot("rolled-back")
	b.do("timeline", chromedp.Navigate(r.api+"/timeline/hello/production"), chromedp.WaitVisible(chromedp.ID("timeline")))
	b.screenshot("timeline")

	// Roll production back from v2 to v1 with the timeline's button.
	b.do("roll back", chromedp.SendKeys(chromedp.CSS("form.act input[name=reason]"), "back to v1 from the dashboard"),
		chromedp.Click(chromedp.ID("rollback")), chromedp.WaitVisible(chromedp.ID("flash-ok")))
	b.screenshot("rollback-asked")
	flash := eval[string](b, `document.getElementById('flash-ok').textContent`)
	m = regexp.MustCompile(`rollback of hello in production from (\S+) to (\S+) started: rollout (\d+)`).FindStringSubmatch(flash)
	if m == nil || m[1] != v2 || m[2] != v1 {
		t.Fatalf("rollback button: %q, want a rollback from %s to %s", flash, v2, v1)
	}
	var rb int64
	fmt.Sscan(m[3], &rb)
	if v := r.follow(rb, false); v.Phase != "RolledBack" || r.stable("production") != v1 {
		t.Fatalf("the dashboard's rollback ended %s with %s stable in production", v.Phase, r.stable("production"))
	}
	b.do("overview", chromedp.Navigate(r.api+"/"), chromedp.WaitVisible(chromedp.ID("overview")))
	b.screenshot("overview")
	b.do("audit", chromedp.Navigate(r.api+"/audit"), chromedp.WaitVisible(chromedp.ID("audit")))
	b.screenshot("audit")

	// Everything the pages asked for came from this server, on loopback.
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.requests) < 10 {
		t.Fatalf("only %d requests recorded: %v", len(b.requests), b.requests)
	}
	for _, u := range b.requests {
		p, err := url.Parse(u)
		if err != nil || p.Hostname() != "127.0.0.1" {
			t.Errorf("the browser requested %s, not on 127.0.0.1", u)
		}
	}
	t.Logf("%d browser requests, all to 127.0.0.1; load: %+v", len(b.requests), load.Stop().Sent)
}
