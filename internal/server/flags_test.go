package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/rollout/rollouttest"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/open"
)

// testFlags are the flags the API tests add to the example's belay.yaml.
const testFlags = `
flags:
  checkout_v2:
    kind: kill_switch
    variants: {on: true, off: false}
    defaultVariant: on
  banner:
    variants: {blue: "#00f", red: "#f00"}
    defaultVariant: blue
    targeting: {fractional: [[blue, 50], [red, 50]]}
`

// addFlags appends testFlags to the belay.yaml s serves (read afresh per request).
func addFlags(t *testing.T, s *Server) {
	t.Helper()
	f, err := os.OpenFile(s.d.ProjectFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(testFlags); err != nil {
		t.Fatal(err)
	}
}

func flagViews(t *testing.T, body string) []api.FlagView {
	t.Helper()
	var vs []api.FlagView
	if err := json.Unmarshal([]byte(body), &vs); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return vs
}

// Flags over the API: listed and read as served, changed with a reason by
// a deployer of the environment, each change audited under the token's
// name and streamed as a flag_changed event.
func TestFlagsAPI(t *testing.T) {
	r := newAuthRig(t)
	dep := r.token("dep", "deployer", "production")
	code, body := r.call(dep, "GET", "/api/v1/flags", nil)
	if vs := flagViews(t, body); code != 200 || len(vs) != 4 || vs[0].Environment != "staging" || vs[0].Key != "banner" ||
		vs[0].Type != "string" || len(vs[0].Split) != 2 || vs[1].Key != "checkout_v2" || vs[1].State != "ENABLED" || vs[1].Variant != "on" ||
		vs[1].Kind != "kill_switch" || vs[1].Override != nil || vs[1].File == nil || vs[1].File.Variant != "on" {
		t.Fatalf("list: %d %s", code, body)
	}

	code, body = r.call(dep, "POST", "/api/v1/flags/production/checkout_v2/disable", api.FlagRequest{Reason: "incident 42"})
	var ch api.FlagChange
	if err := json.Unmarshal([]byte(body), &ch); code != 200 || err != nil || ch.Action != "flag.disable" ||
		ch.Before.State != "ENABLED" || ch.After.State != "DISABLED" || ch.Flag.State != "DISABLED" || ch.Flag.Override == nil ||
		ch.Flag.Override.Actor != "dep" || len(ch.Flag.Differences) != 1 {
		t.Fatalf("disable: %d %s", code, body)
	}
	code, body = r.call(dep, "POST", "/api/v1/flags/production/banner/set", api.FlagRequest{Variant: "red", Reason: "red for the sale"})
	if code != 200 || !strings.Contains(body, `"after":{"state":"ENABLED","variant":"red"}`) {
		t.Fatalf("set: %d %s", code, body)
	}
	code, body = r.call(dep, "GET", "/api/v1/flags?env=production", nil)
	vs := flagViews(t, body)
	if code != 200 || len(vs) != 2 || vs[0].Variant != "red" || vs[0].Split != nil || vs[1].State != "DISABLED" {
		t.Fatalf("list production: %d %s", code, body)
	}
	code, body = r.call(dep, "GET", "/api/v1/flags/production/checkout_v2", nil)
	if code != 200 || !strings.Contains(body, `"state":"DISABLED"`) || !strings.Contains(body, `"reason":"incident 42"`) ||
		!strings.Contains(body, `"differences":[{"field":"state","file":"ENABLED","override":"DISABLED"}]`) {
		t.Fatalf("get: %d %s", code, body)
	}
	code, body = r.call(dep, "POST", "/api/v1/flags/production/checkout_v2/reset", api.FlagRequest{Reason: "fixed"})
	if code != 200 || !strings.Contains(body, `"after":{"state":"ENABLED","variant":"on"}`) || strings.Contains(body, `"override"`) {
		t.Fatalf("reset: %d %s", code, body)
	}

	var changes []store.AuditEntry
	for _, e := range r.audited() {
		if strings.HasPrefix(e.Action, "flag.") {
			changes = append(changes, e)
		}
	}
	if len(changes) != 3 || changes[0].Actor != "dep" || changes[0].Subject != "flag/production/checkout_v2" || changes[0].Reason != "incident 42" ||
		!strings.Contains(string(changes[0].Detail), `"before":{"state":"ENABLED","variant":"on"},"after":{"state":"DISABLED","variant":"on"}`) {
		t.Errorf("audited flag changes: %+v", changes)
	}
	code, body = r.call(dep, "GET", "/api/v1/events", nil)
	if code != 200 || strings.Count(body, `"event":"flag_changed"`) != 3 || !strings.Contains(body, `"flag":"banner"`) {
		t.Errorf("events: %d %s", code, body)
	}
}

// Bad flag requests are refused with their own status, saying what is
// wrong and what exists, and change nothing.
func TestFlagsAPIRefusesBadRequests(t *testing.T) {
	r := newAuthRig(t)
	viewer := r.token("viewer", "viewer")
	stagingDep := r.token("stager", "deployer", "staging")
	before := len(r.audited())
	for _, c := range []struct {
		name, token, method, path string
		body                      any
		code                      int
		want                      string
	}{
		{"unknown environment", r.admin, "POST", "/api/v1/flags/prod/checkout_v2/disable", api.FlagRequest{Reason: "x"}, 404,
			`environment "prod" is not defined in belay.yaml; defined: staging, production`},
		{"unknown environment, list", r.admin, "GET", "/api/v1/flags?env=qa", nil, 404, `environment "qa" is not defined in belay.yaml`},
		{"unknown flag", r.admin, "POST", "/api/v1/flags/production/checkout_v3/disable", api.FlagRequest{Reason: "x"}, 404,
			`flag "checkout_v3" is not defined in belay.yaml's flags: block (did you mean "checkout_v2"?); defined: banner, checkout_v2`},
		{"unknown flag, get", r.admin, "GET", "/api/v1/flags/production/checkout", nil, 404, `flag "checkout" is not defined`},
		{"bad variant", r.admin, "POST", "/api/v1/flags/production/checkout_v2/set", api.FlagRequest{Variant: "maybe", Reason: "x"}, 422,
			`variant "maybe" is not one of flag checkout_v2's variants: off, on`},
		{"no reason", r.admin, "POST", "/api/v1/flags/production/checkout_v2/disable", api.FlagRequest{}, 422,
			"disable of flag checkout_v2 in production needs a reason (--reason)"},
		{"unknown op", r.admin, "POST", "/api/v1/flags/production/checkout_v2/toggle", api.FlagRequest{Reason: "x"}, 422,
			`unknown flag change "toggle": use set, disable, enable or reset`},
		{"unknown field", r.admin, "POST", "/api/v1/flags/production/checkout_v2/set", map[string]string{"value": "on"}, 400,
			`unknown field "value"; the fields are variant, reason`},
		{"viewer", viewer, "POST", "/api/v1/flags/production/checkout_v2/disable", api.FlagRequest{Reason: "x"}, 403,
			"viewer (viewer in every environment) may not flags in production: that needs the deployer role in production"},
		{"deployer of another environment", stagingDep, "POST", "/api/v1/flags/production/checkout_v2/disable", api.FlagRequest{Reason: "x"}, 403,
			"stager (deployer in staging) may not flags in production: that needs the deployer role in production"},
	} {
		if code, body := r.call(c.token, c.method, c.path, c.body); code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s\nwant %d %q", c.name, code, body, c.code, c.want)
		}
	}
	if os, err := r.st.FlagOverrides(context.Background(), ""); err != nil || len(os) != 0 {
		t.Errorf("refused requests stored overrides: %+v %v", os, err)
	}
	for _, e := range r.audited()[before:] {
		if !strings.HasPrefix(e.Action, "denied.") {
			t.Errorf("a refused request audited %s", e.Action)
		}
	}
}

// restartable is a server on a state directory and belay.yaml that
// outlive it, as a restarted `belay server` finds them.
type restartable struct {
	t           *testing.T
	state, file string
}

func (rs restartable) start() (*Server, store.Store, func()) {
	t := rs.t
	t.Helper()
	st, err := open.Open(context.Background(), "", rs.state, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Deps{Store: st, Target: rollouttest.NewTarget(), Artifacts: noArtifacts{}, ProjectFile: rs.file, AuditKey: testAuditKey(t),
		Judge: rollout.JudgeFunc(func(context.Context, rollout.State) (analysis.Verdict, error) { return analysis.Verdict{}, nil })})
	if err != nil {
		t.Fatal(err)
	}
	return s, st, func() { st.Close() }
}

// An override survives a restart of the server and an edit of belay.yaml:
// after the file's defaultVariant changes, the override still wins and
// the list shows where they disagree; a pin of a variant the file then
// removes serves DISABLED and says so.
func TestFlagOverrideSurvivesRestartAndEdit(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("../../examples/hello/belay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rs := restartable{t: t, state: filepath.Join(dir, ".belay"), file: filepath.Join(dir, "belay.yaml")}
	if err := os.WriteFile(rs.file, append(b, testFlags...), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _, stop := rs.start()
	hs, admin := authedServer(t, s)
	r := &authRig{t: t, url: hs.URL, admin: admin}
	if code, body := r.call(admin, "POST", "/api/v1/flags/production/checkout_v2/set", api.FlagRequest{Variant: "off", Reason: "kill it"}); code != 200 {
		t.Fatalf("set: %d %s", code, body)
	}
	if code, body := r.call(admin, "POST", "/api/v1/flags/production/banner/set", api.FlagRequest{Variant: "red", Reason: "sale"}); code != 200 {
		t.Fatalf("set: %d %s", code, body)
	}
	hs.Close()
	stop()

	// belay.yaml edited while the server is down: checkout_v2 now defaults
	// to off, banner loses red and gains green.
	edited := strings.Replace(string(b)+testFlags, "defaultVariant: on", "defaultVariant: off", 1)
	edited = strings.Replace(edited, `variants: {blue: "#00f", red: "#f00"}`, `variants: {blue: "#00f", green: "#0f0"}`, 1)
	edited = strings.Replace(edited, "[[blue, 50], [red, 50]]", "[[blue, 50], [green, 50]]", 1)
	if err := os.WriteFile(rs.file, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _, stop = rs.start()
	defer stop()
	hs = httptest.NewServer(s.Handler()) // the admin token is the first start's
	defer hs.Close()
	r.url = hs.URL
	code, body := r.call(admin, "GET", "/api/v1/flags?env=production", nil)
	vs := flagViews(t, body)
	if code != 200 || len(vs) != 2 {
		t.Fatalf("list after restart: %d %s", code, body)
	}
	banner, checkout := vs[0], vs[1]
	if checkout.Override == nil || checkout.Override.Variant != "off" || checkout.Variant != "off" || checkout.File.Variant != "off" ||
		len(checkout.Differences) != 0 {
		t.Errorf("checkout_v2: the override must survive and now agree with the file: %+v", checkout)
	}
	if banner.Override == nil || banner.State != "DISABLED" || !strings.Contains(banner.Problem, `pins variant "red", which belay.yaml no longer defines (variants: blue, green)`) ||
		len(banner.Differences) != 1 || banner.Differences[0].File != "a split (blue 50%, green 50%)" {
		t.Errorf("banner: a pin of a removed variant must serve DISABLED and say why: %+v", banner)
	}

	// The file's default changes back: the override wins again, and says so.
	if err := os.WriteFile(rs.file, []byte(strings.Replace(edited, "defaultVariant: off", "defaultVariant: on", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, body = r.call(admin, "GET", "/api/v1/flags/production/checkout_v2", nil)
	if code != 200 || !strings.Contains(body, `"variant":"off"`) || !strings.Contains(body, `"differences":[{"field":"variant","file":"on","override":"off"}]`) {
		t.Errorf("after the file changed back: %d %s", code, body)
	}
}
