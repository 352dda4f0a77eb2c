package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/flag"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
)

// ofrepFlags is the flags: block the OFREP tests add to the example's
// belay.yaml: one flag of each type, a split, a disabled kill switch.
const ofrepFlags = `
flags:
  new-checkout:
    kind: release
    variants: {"on": true, "off": false}
    defaultVariant: "off"
  banner-text:
    variants: {plain: Hello, festive: Happy holidays}
    defaultVariant: festive
  checkout-split:
    kind: experiment
    variants: {control: old, treatment: new}
    defaultVariant: control
    targeting:
      fractional: [[control, 50], [treatment, 50]]
  risky-path:
    kind: kill_switch
    state: DISABLED
    variants: {"on": true, "off": false}
    defaultVariant: "on"
  max-items:
    variants: {small: 10, large: 100}
    defaultVariant: large
  ratio:
    variants: {low: 0.25, high: 0.75}
    defaultVariant: high
  limits:
    variants: {tight: {rps: 10}, loose: {rps: 100}}
    defaultVariant: tight
`

// ofrepRig is a real belay server (the real handler over real SQLite)
// whose belay.yaml has ofrepFlags, production turning new-checkout on.
type ofrepRig struct {
	t       *testing.T
	srv     *Server
	url     string
	project string
	stop    func()
}

func newOFREPRig(t *testing.T) *ofrepRig {
	t.Helper()
	s, _ := testServer(t)
	b, err := os.ReadFile(s.d.ProjectFile)
	if err != nil {
		t.Fatal(err)
	}
	y := strings.Replace(string(b), "  - name: production\n", "  - name: production\n    flags:\n      new-checkout: {defaultVariant: \"on\"}\n", 1)
	if err := os.WriteFile(s.d.ProjectFile, []byte(y+ofrepFlags), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Project(); err != nil || len(p.Flags) != 7 {
		t.Fatalf("belay.yaml with flags: %v", err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return &ofrepRig{t: t, srv: s, url: hs.URL, project: s.d.ProjectFile, stop: hs.Close}
}

// token makes a viewer token for envs (none: every environment).
func (r *ofrepRig) token(name string, envs ...string) string {
	r.t.Helper()
	tc, err := r.srv.createToken(context.Background(), store.Token{Name: name, Role: "viewer", Environments: envs, CreatedBy: "admin", Created: time.Now()}, "test")
	if err != nil {
		r.t.Fatal(err)
	}
	return tc.Token
}

// post sends body (a string, sent as it is) to path with headers and
// returns the response, its body read.
func (r *ofrepRig) post(path, body string, headers ...string) (*http.Response, []byte) {
	r.t.Helper()
	req, _ := http.NewRequest("POST", r.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (r *ofrepRig) get(path string, headers ...string) (*http.Response, []byte) {
	r.t.Helper()
	req, _ := http.NewRequest("GET", r.url+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// TestOFREPEvaluatesOneFlag: each type of flag, an environment's override,
// a split bucketed as flagd does, and a disabled flag with no value.
func TestOFREPEvaluatesOneFlag(t *testing.T) {
	r := newOFREPRig(t)
	staging, production := bearer(r.token("web-staging", "staging")), bearer(r.token("web", "production"))
	const user = `{"context": {"targetingKey": "user-42", "plan": "pro"}}`
	split := flag.Bucket("checkout-split", "user-42", spec.Fractional{{Variant: "control", Percent: 50}, {Variant: "treatment", Percent: 50}})
	for _, c := range []struct {
		name, key string
		headers   []string
		want      string
	}{
		{"boolean", "new-checkout", staging, `{"key":"new-checkout","value":false,"variant":"off","reason":"STATIC","metadata":{"kind":"release"}}`},
		{"production's override", "new-checkout", production, `{"key":"new-checkout","value":true,"variant":"on","reason":"STATIC","metadata":{"kind":"release"}}`},
		{"string", "banner-text", staging, `{"key":"banner-text","value":"Happy holidays","variant":"festive","reason":"STATIC"}`},
		{"integer", "max-items", staging, `{"key":"max-items","value":100,"variant":"large","reason":"STATIC"}`},
		{"float", "ratio", staging, `{"key":"ratio","value":0.75,"variant":"high","reason":"STATIC"}`},
		{"object", "limits", staging, `{"key":"limits","value":{"rps":10},"variant":"tight","reason":"STATIC"}`},
		{"split", "checkout-split", staging, `{"key":"checkout-split","value":"` + map[string]string{"control": "old", "treatment": "new"}[split] +
			`","variant":"` + split + `","reason":"SPLIT","metadata":{"kind":"experiment"}}`},
		{"disabled", "risky-path", production, `{"key":"risky-path","reason":"DISABLED","metadata":{"kind":"kill_switch"}}`},
	} {
		resp, body := r.post("/ofrep/v1/evaluate/flags/"+c.key, user, c.headers...)
		if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != c.want {
			t.Errorf("%s: %d %s\nwant 200 %s", c.name, resp.StatusCode, body, c.want)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", c.name, ct)
		}
	}
}

// TestOFREPRefusals: each refusal has OFREP's status and errorCode, and
// details that say what to do.
func TestOFREPRefusals(t *testing.T) {
	r := newOFREPRig(t)
	web := bearer(r.token("web", "production"))
	const path = "/ofrep/v1/evaluate/flags/new-checkout"
	for _, c := range []struct {
		name, path, body string
		headers          []string
		code             int
		want             string
	}{
		{"unknown flag", "/ofrep/v1/evaluate/flags/nope", `{"context": {}}`, web, 404,
			`{"key":"nope","errorCode":"FLAG_NOT_FOUND","errorDetails":"no such flag: flag \"nope\" is not in belay.yaml's flags: block"}`},
		{"not JSON", path, `{"context": `, web, 400, `"errorCode":"PARSE_ERROR","errorDetails":"not an evaluation request: request body is not valid JSON`},
		{"no body", path, ``, web, 400, `"errorCode":"PARSE_ERROR"`},
		{"two values", path, `{"context": {}} {}`, web, 400, `"errorCode":"PARSE_ERROR"`},
		{"no context", path, `{}`, web, 400, `{"key":"new-checkout","errorCode":"INVALID_CONTEXT","errorDetails":"invalid evaluation context: send {\"context\": {\"targetingKey\": \"…\"}}: context must be a JSON object"}`},
		{"context not an object", path, `{"context": "user-1"}`, web, 400, `"errorCode":"INVALID_CONTEXT"`},
		{"targetingKey not a string", path, `{"context": {"targetingKey": 42}}`, web, 400, `"errorCode":"INVALID_CONTEXT","errorDetails":"invalid evaluation context: targetingKey must be a string"`},
		{"split without targetingKey", "/ofrep/v1/evaluate/flags/checkout-split", `{"context": {}}`, web, 400,
			`{"key":"checkout-split","errorCode":"TARGETING_KEY_MISSING","errorDetails":"TARGETING_KEY_MISSING: flag checkout-split splits on the context's targetingKey`},
		{"no token", path, `{"context": {}}`, nil, 401, `authentication required`},
		{"token for every environment", path, `{"context": {}}`, bearer(r.token("everywhere")), 403,
			`{"errorDetails":"no environment chosen: token everywhere is for every environment, and flags are evaluated in one environment, which the token chooses: use a token scoped to one (belay token create --name web --role viewer --env production)"}`},
		{"token for two environments", "/ofrep/v1/evaluate/flags", `{"context": {}}`, bearer(r.token("both", "staging", "production")), 403, `token both is for staging, production`},
		{"X-API-Key off OFREP", "/api/v1/whoami", ``, []string{"X-API-Key", strings.TrimPrefix(web[1], "Bearer ")}, 401, `authentication required`},
	} {
		resp, body := r.post(c.path, c.body, c.headers...)
		if resp.StatusCode != c.code || !strings.Contains(string(body), c.want) {
			t.Errorf("%s: %d %s\nwant %d %s", c.name, resp.StatusCode, body, c.code, c.want)
		}
	}
	if resp, body := r.post(path, `{"context": {}}`, "X-API-Key", strings.TrimPrefix(web[1], "Bearer ")); resp.StatusCode != 200 {
		t.Errorf("X-API-Key on OFREP: %d %s", resp.StatusCode, body)
	}
	if resp, body := r.post(path+"?token=x", `{"context": {}}`, web...); resp.StatusCode != 400 || !strings.Contains(string(body), "a token never goes in a URL") {
		t.Errorf("token in the URL: %d %s", resp.StatusCode, body)
	}
	req, _ := http.NewRequest("GET", r.url+path, nil)
	req.Header.Set(web[0], web[1])
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 405 {
		t.Errorf("GET: %v %v", resp.StatusCode, err)
	}
	// A browser page on another origin is refused, OFREP or not.
	if resp, body := r.post(path, `{"context": {}}`, append(web, "Origin", "https://shop.example")...); resp.StatusCode != 403 || !strings.Contains(string(body), "cross-origin request refused") {
		t.Errorf("cross-origin: %d %s", resp.StatusCode, body)
	}
}

// TestOFREPSlowsGuessing: failed authentications on OFREP's paths count
// like any other, and the 429 says when to retry.
func TestOFREPSlowsGuessing(t *testing.T) {
	r := newOFREPRig(t)
	ghost := "belay_" + strings.Repeat("A", len(r.token("web", "production"))-len("belay_"))
	for range failBurst + 2 {
		resp, body := r.post("/ofrep/v1/evaluate/flags", `{"context": {}}`, "X-API-Key", ghost)
		if resp.StatusCode == 429 {
			if resp.Header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After: %s", body)
			}
			return
		}
		if resp.StatusCode != 401 {
			t.Fatalf("unknown key: %d %s", resp.StatusCode, body)
		}
	}
	t.Error("repeated failed authentications were never slowed down")
}

// TestOFREPBulk: every flag in one answer, per-flag failures inside it, a
// strong ETag that If-None-Match turns into 304 until belay.yaml changes.
func TestOFREPBulk(t *testing.T) {
	r := newOFREPRig(t)
	web := bearer(r.token("web", "production"))
	const path = "/ofrep/v1/evaluate/flags"
	resp, body := r.post(path, `{"context": {}}`, web...)
	var got struct {
		Flags []struct {
			Key, Reason, ErrorCode string
			Value                  any
		}
		Metadata map[string]any
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &got) != nil {
		t.Fatalf("bulk: %d %s", resp.StatusCode, body)
	}
	var keys []string
	for _, f := range got.Flags {
		keys = append(keys, f.Key+":"+f.Reason+f.ErrorCode)
	}
	want := "banner-text:STATIC checkout-split:TARGETING_KEY_MISSING limits:STATIC max-items:STATIC new-checkout:STATIC ratio:STATIC risky-path:DISABLED"
	if strings.Join(keys, " ") != want || got.Metadata["environment"] != "production" {
		t.Errorf("bulk: %s\nwant flags %s in production", body, want)
	}
	etag := resp.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || etag != strongETag(body) {
		t.Fatalf("ETag %q: want a strong tag of the body", etag)
	}
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		resp, body := r.post(path, `{"context": {}}`, append(web, "If-None-Match", inm)...)
		if resp.StatusCode != 304 || len(body) != 0 || resp.Header.Get("ETag") != etag {
			t.Errorf("If-None-Match %s: %d %q ETag %q; want 304, no body, the same ETag", inm, resp.StatusCode, body, resp.Header.Get("ETag"))
		}
	}
	// Another context is another answer, so another tag.
	if resp, _ := r.post(path, `{"context": {"targetingKey": "user-42"}}`, append(web, "If-None-Match", etag)...); resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
		t.Errorf("another context: %d ETag %q", resp.StatusCode, resp.Header.Get("ETag"))
	}
	// belay.yaml changes: the old tag no longer matches.
	b, _ := os.ReadFile(r.project)
	if err := os.WriteFile(r.project, bytes.Replace(b, []byte("defaultVariant: festive"), []byte("defaultVariant: plain"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, body = r.post(path, `{"context": {}}`, append(web, "If-None-Match", etag)...)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag || !strings.Contains(string(body), `"value":"Hello"`) {
		t.Errorf("after an edit: %d ETag %q %s", resp.StatusCode, resp.Header.Get("ETag"), body)
	}
	// The request as a whole is refused with bulkEvaluationFailure.
	if resp, body := r.post(path, `{"context": []}`, web...); resp.StatusCode != 400 || !strings.HasPrefix(string(body), `{"errorCode":"INVALID_CONTEXT"`) {
		t.Errorf("bad context: %d %s", resp.StatusCode, body)
	}
}

// TestOFREPEnvironmentGone: a token whose environment left belay.yaml
// evaluates nothing.
func TestOFREPEnvironmentGone(t *testing.T) {
	r := newOFREPRig(t)
	old := bearer(r.token("old", "qa"))
	resp, body := r.post("/ofrep/v1/evaluate/flags/new-checkout", `{"context": {}}`, old...)
	if resp.StatusCode != 403 || !strings.Contains(string(body), `the token's environment \"qa\" is not in belay.yaml (environments: staging, production)`) {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
}

// An override pins a variant: flag says DEFAULT, which OFREP's reasons
// lack; OFREP answers STATIC with metadata.overridden.
func TestOFREPOverriddenIsStatic(t *testing.T) {
	f := spec.Flag{Variants: spec.FlagVariants{"on": true, "off": false}, DefaultVariant: "on", State: spec.FlagEnabled}
	ev, err := evaluate("x", flagSource{Flag: f, Overridden: true}, "")
	if err != nil || ev.Reason != "STATIC" || ev.Metadata["overridden"] != true || ev.Value != true {
		t.Errorf("%+v %v", ev, err)
	}
}

func TestNoneMatch(t *testing.T) {
	const tag = `"abc"`
	for header, want := range map[string]bool{
		`"abc"`: true, `W/"abc"`: true, `"x", "abc"`: true, `"x",W/"abc" `: true, `*`: true,
		``: false, `"x"`: false, `abc`: false, `"abcd"`: false,
	} {
		if got := noneMatch(header, tag); got != want {
			t.Errorf("If-None-Match %q against %s: %v, want %v", header, tag, got, want)
		}
	}
}

// TestOFREPChangeStream: the bulk answer names the change stream, which
// sends a refetchEvaluation when belay.yaml changes the environment's
// flags, and nothing for an edit that changes none of them.
func TestOFREPChangeStream(t *testing.T) {
	r := newOFREPRig(t)
	r.srv.flagsPoll = 20 * time.Millisecond
	web := bearer(r.token("web", "production"))
	if _, body := r.post("/ofrep/v1/evaluate/flags", `{"context": {}}`, web...); !strings.Contains(string(body), `"eventStreams":[{"endpoint":{"requestUri":"/ofrep/v1/flags/changes"},"type":"sse"}]`) {
		t.Errorf("bulk names no change stream: %s", body)
	}
	if resp, body := r.get("/ofrep/v1/flags/changes", bearer(r.token("everywhere"))...); resp.StatusCode != 403 {
		t.Errorf("a token for every environment: %d %s", resp.StatusCode, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", r.url+"/ofrep/v1/flags/changes", nil)
	req.Header.Set(web[0], web[1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %v %v", resp, err)
	}
	defer resp.Body.Close()
	defer cancel()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		defer close(lines)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	if l := <-lines; !strings.HasPrefix(l, ": watching production's flags") {
		t.Fatalf("first line %q", l)
	}
	edit := func(old, new string) {
		b, _ := os.ReadFile(r.project)
		if err := os.WriteFile(r.project, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edit("project: hello", "project: hello # a comment changes no flag")
	time.Sleep(5 * r.srv.flagsPoll)
	edit("defaultVariant: festive", "defaultVariant: plain")
	want, _ := r.srv.flagsETag(ctx, "production")
	for l := range lines {
		if l == "" || strings.HasPrefix(l, ":") {
			continue
		}
		if l != "event: message" {
			t.Fatalf("line %q: want the event after belay.yaml changed a flag", l)
		}
		if l := <-lines; l != `data: {"etag":"\"`+strings.Trim(want, `"`)+`\"","type":"refetchEvaluation"}` {
			t.Errorf("data %q", l)
		}
		return
	}
	t.Fatal("stream ended without an event")
}

// A run-time override (a person's, or a rollback's) is what OFREP serves,
// at the next evaluation: disabled, the flag has no value; reset, the
// file's answer again; and the bulk ETag changes with it.
func TestOFREPServesOverrides(t *testing.T) {
	r := newOFREPRig(t)
	web := bearer(r.token("web", "production"))
	p, err := r.srv.Project()
	if err != nil {
		t.Fatal(err)
	}
	ask := func() string {
		t.Helper()
		resp, body := r.post("/ofrep/v1/evaluate/flags/new-checkout", `{"context": {}}`, web...)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		return string(body)
	}
	etag := func() string {
		resp, _ := r.post("/ofrep/v1/evaluate/flags", `{"context": {}}`, web...)
		return resp.Header.Get("ETag")
	}
	if got := ask(); !strings.Contains(got, `"value":true`) {
		t.Fatalf("before: %s", got)
	}
	before := etag()
	change := func(op flag.Op) {
		t.Helper()
		if _, err := r.srv.flagService().Change(context.Background(), p, flag.Change{Environment: "production", Flag: "new-checkout", Op: op, Actor: "rollout/9", Reason: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	change(flag.Disable)
	if got := ask(); !strings.Contains(got, `"reason":"DISABLED"`) || strings.Contains(got, `"value"`) || !strings.Contains(got, `"overridden":true`) {
		t.Errorf("disabled by an override: %s", got)
	}
	if etag() == before {
		t.Error("the bulk ETag did not change with the override")
	}
	change(flag.Reset)
	if got := ask(); !strings.Contains(got, `"value":true`) || strings.Contains(got, "overridden") {
		t.Errorf("after a reset: %s", got)
	}
	if etag() != before {
		t.Error("the bulk ETag did not come back with the file's answer")
	}
}
