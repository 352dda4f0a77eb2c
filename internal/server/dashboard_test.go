package server

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

// dashClient is a browser-like client of the dashboard: it keeps no cookie
// jar and follows no redirect, so the test sees each answer.
type dashClient struct {
	t       *testing.T
	base    string
	session string // the session cookie's value
}

func (c *dashClient) do(method, path string, form url.Values, hdr ...string) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("X-Test-Anonymous", "1") // no bearer token: the dashboard goes by its cookie
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if c.session != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: c.session})
	}
	cl := http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (c *dashClient) login(token string) {
	c.t.Helper()
	resp, body := c.do("POST", "/login", url.Values{"token": {token}, "next": {"/approvals"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/approvals" {
		c.t.Fatalf("login: %s → %q\n%s", resp.Status, resp.Header.Get("Location"), body)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" {
				c.t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/", ck)
			}
			c.session = ck.Value
		}
	}
	if c.session == "" {
		c.t.Fatal("login set no session cookie")
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func (c *dashClient) csrf(page string) string {
	c.t.Helper()
	_, body := c.do("GET", page, nil)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("%s has no CSRF token:\n%s", page, body)
	}
	return m[1]
}

func TestDashboardLoginRolesAndCSRF(t *testing.T) {
	rig := newAuthRig(t)
	staging := strconv.FormatInt(rig.rollouts["staging"], 10)
	anon := &dashClient{t: t, base: rig.url}

	// Not logged in: every page sends to the login form; a fragment is 401.
	resp, _ := anon.do("GET", "/rollouts/"+staging, nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=%2Frollouts%2F"+staging) {
		t.Fatalf("anonymous page: %s → %q", resp.Status, resp.Header.Get("Location"))
	}
	if resp, _ := anon.do("GET", "/rollouts/"+staging+"/live", nil, "X-Belay-Fragment", "1"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous fragment: %s", resp.Status)
	}
	resp, body := anon.do("POST", "/login", url.Values{"token": {"belay_nope"}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "malformed token") {
		t.Fatalf("bad token: %s\n%s", resp.Status, body)
	}
	// The API's bearer tokens are not taken from a query either.
	if resp, _ := anon.do("GET", "/?token="+rig.admin, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a token in the URL logged in: %s", resp.Status)
	}

	// A viewer sees everything and may press nothing.
	viewer := &dashClient{t: t, base: rig.url}
	viewer.login(rig.token("vera", "viewer"))
	resp, body = viewer.do("GET", "/", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `data-service="hello"`) || !strings.Contains(body, `href="/rollouts/`+staging+`"`) ||
		!strings.Contains(body, "vera · viewer") {
		t.Fatalf("overview: %s\n%s", resp.Status, body)
	}
	if resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatal("no Content-Security-Policy on pages")
	}
	_, body = viewer.do("GET", "/rollouts/"+staging, nil)
	if !regexp.MustCompile(`id="abort" class="abort" disabled title="permission denied: vera \(viewer in every environment\) may not abort in staging`).MatchString(body) {
		t.Fatalf("a viewer's abort button is not disabled with why:\n%s", body)
	}
	// The server refuses it too, through the API's authorization.
	tok := viewer.csrf("/rollouts/" + staging)
	resp, _ = viewer.do("POST", "/act", url.Values{"csrf": {tok}, "action": {"abort"}, "rollout": {staging}, "reason": {"r"}, "next": {"/rollouts/" + staging}})
	if f := flashOf(t, resp); resp.StatusCode != http.StatusSeeOther || !strings.Contains(f.Err, "abort refused (403)") {
		t.Fatalf("viewer abort: %s → %+v", resp.Status, f)
	}
	if n := rig.denials(); n == 0 {
		t.Fatal("the refused abort was not audited")
	}

	// A deployer may abort; without the CSRF token nothing happens.
	dep := &dashClient{t: t, base: rig.url}
	depToken := rig.token("dora", "deployer", "staging")
	dep.login(depToken)
	form := url.Values{"action": {"abort"}, "rollout": {staging}, "reason": {"from the dashboard"}, "next": {"/approvals"}}
	if resp, _ := dep.do("POST", "/act", form); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("abort without CSRF token: %s", resp.Status)
	}
	form.Set("csrf", "00"+dep.csrf("/approvals")[2:])
	if resp, _ := dep.do("POST", "/act", form); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("abort with a wrong CSRF token: %s", resp.Status)
	}
	form.Set("csrf", dep.csrf("/approvals"))
	if resp, _ := dep.do("POST", "/act", form, "Origin", "http://elsewhere.example"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin abort: %s", resp.Status)
	}
	resp, _ = dep.do("POST", "/act", form)
	f := flashOf(t, resp)
	if loc := resp.Header.Get("Location"); loc != "/approvals" || !strings.HasPrefix(f.OK, "abort of rollout") {
		t.Fatalf("deployer abort: %s → %q %+v", resp.Status, loc, f)
	}
	// The outcome shows on the next page, once; never from the query.
	var flashCk string
	for _, ck := range resp.Cookies() {
		if ck.Name == flashCookie {
			flashCk = ck.Value
		}
	}
	if resp, body := dep.do("GET", "/approvals?ok=Call+this+number", nil, "Cookie", flashCookie+"="+flashCk); !strings.Contains(body, `id="flash-ok">abort of rollout`) ||
		strings.Contains(body, "Call this number") || flashOf(t, resp) != (flash{}) {
		t.Fatalf("the next page does not show the outcome once (or shows the query's words):\n%s", body)
	}
	audited := false
	for _, e := range rig.audited() {
		if e.Actor == "dora" && strings.Contains(e.Action, "abort") && strings.Contains(e.Reason, "from the dashboard") {
			audited = true
		}
	}
	if !audited {
		t.Fatalf("the dashboard's abort is not in the audit log as dora's: %+v", rig.audited())
	}
	// Scoped to staging: production's abort is refused by the API.
	prod := strconv.FormatInt(rig.rollouts["production"], 10)
	form.Set("rollout", prod)
	resp, _ = dep.do("POST", "/act", form)
	if f := flashOf(t, resp); !strings.Contains(f.Err, "refused (403)") {
		t.Fatalf("deployer abort in production: %+v", f)
	}

	// Revoked: the next page ends the session.
	if code, body := rig.call(rig.admin, "POST", "/api/v1/tokens/"+tokenID(t, rig, "dora")+"/revoke", map[string]string{"reason": "test"}); code != 200 {
		t.Fatalf("revoke: %d %s", code, body)
	}
	resp, _ = dep.do("GET", "/approvals", nil)
	if f := flashOf(t, resp); resp.StatusCode != http.StatusSeeOther || !strings.Contains(f.Err, "revoked") {
		t.Fatalf("revoked session: %s → %+v", resp.Status, f)
	}

	// Logging out needs the CSRF token and clears the cookie.
	resp, _ = viewer.do("POST", "/logout", url.Values{"csrf": {viewer.csrf("/")}})
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) == 0 || resp.Cookies()[0].MaxAge >= 0 {
		t.Fatalf("logout: %s %+v", resp.Status, resp.Cookies())
	}
}

// flashOf is the flash message an answer sets for the next page: a
// cookie that is set to expire reads as none.
func flashOf(t *testing.T, resp *http.Response) flash {
	t.Helper()
	var f flash
	for _, ck := range resp.Cookies() {
		if ck.Name != flashCookie || ck.MaxAge < 0 {
			continue
		}
		b, err := base64.RawURLEncoding.DecodeString(ck.Value)
		if err != nil || json.Unmarshal(b, &f) != nil {
			t.Fatalf("flash cookie %q does not decode", ck.Value)
		}
	}
	return f
}

func tokenID(t *testing.T, rig *authRig, name string) string {
	t.Helper()
	tk, err := rig.st.TokenByName(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.FormatInt(tk.ID, 10)
}

func TestDashboardPagesRender(t *testing.T) {
	rig := newAuthRig(t)
	c := &dashClient{t: t, base: rig.url}
	c.login(rig.admin)
	for _, p := range []string{"/", "/approvals", "/audit", "/timeline/hello/staging",
		"/rollouts/" + strconv.FormatInt(rig.rollouts["production"], 10), "/rollouts/" + strconv.FormatInt(rig.rollouts["production"], 10) + "/live",
		"/static/dash.css", "/static/dash.js"} {
		resp, body := c.do("GET", p, nil)
		if resp.StatusCode != 200 || len(body) < 100 {
			t.Errorf("%s: %s\n%s", p, resp.Status, body)
		}
	}
	resp, body := c.do("GET", "/rollouts/999", nil)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "no rollout 999") {
		t.Errorf("unknown rollout: %s %s", resp.Status, body)
	}
	_, body = c.do("GET", "/approvals", nil)
	if !strings.Contains(body, `id="rollback-`) || strings.Contains(body, "disabled") {
		t.Errorf("an admin's buttons on the approvals page:\n%s", body)
	}
}

// TestDashboardChartMarksFlagChanges: a flag change in a rollout's
// environment while it runs is a marker on its chart; one elsewhere is not.
func TestDashboardChartMarksFlagChanges(t *testing.T) {
	rig := newAuthRig(t)
	c := &dashClient{t: t, base: rig.url}
	c.login(rig.admin)
	prod := "/rollouts/" + strconv.FormatInt(rig.rollouts["production"], 10) + "/live"
	staging := "/rollouts/" + strconv.FormatInt(rig.rollouts["staging"], 10) + "/live"
	if _, body := c.do("GET", prod, nil); strings.Contains(body, `data-kind="flag"`) {
		t.Fatalf("a flag marker before any flag changed:\n%s", body)
	}
	if code, body := rig.call(rig.admin, "POST", "/api/v1/flags/production/checkout_v2/disable", map[string]string{"reason": "incident 42"}); code != 200 {
		t.Fatalf("flag disable: %d %s", code, body)
	}
	_, body := c.do("GET", prod, nil)
	if !strings.Contains(body, `data-kind="flag"><title>flag checkout_v2 disable at `) {
		t.Fatalf("no marker for the flag change in production:\n%s", body)
	}
	if _, body := c.do("GET", staging, nil); strings.Contains(body, `data-kind="flag"`) {
		t.Fatalf("staging's chart marks production's flag change:\n%s", body)
	}
}

// TestDashboardChartMarksInfraApply: an infrastructure plan applied in a
// rollout's environment while it runs (the audit entry belay apply
// writes) is a marker on its chart; one applied elsewhere is not.
func TestDashboardChartMarksInfraApply(t *testing.T) {
	rig := newAuthRig(t)
	c := &dashClient{t: t, base: rig.url}
	c.login(rig.admin)
	prod := "/rollouts/" + strconv.FormatInt(rig.rollouts["production"], 10) + "/live"
	staging := "/rollouts/" + strconv.FormatInt(rig.rollouts["staging"], 10) + "/live"
	if _, body := c.do("GET", prod, nil); strings.Contains(body, `data-kind="infra"`) {
		t.Fatalf("an infrastructure marker before any apply:\n%s", body)
	}
	if _, err := rig.st.AppendAudit(t.Context(), store.AuditEntry{At: time.Now(), Actor: "dave", Action: "infra.apply", Subject: "plan/7",
		Reason: "bigger pool", Detail: []byte(`{"environment":"production","hash":"sha256:ab"}`)}); err != nil {
		t.Fatal(err)
	}
	_, body := c.do("GET", prod, nil)
	if !strings.Contains(body, `data-kind="infra"><title>infrastructure apply plan/7 at `) {
		t.Fatalf("no marker for the infrastructure apply in production:\n%s", body)
	}
	if _, body := c.do("GET", staging, nil); strings.Contains(body, `data-kind="infra"`) {
		t.Fatalf("staging's chart marks production's infrastructure apply:\n%s", body)
	}
}

// TestDashboardCrossSite: a link from another site opens a page (to the
// login form: the cookie stays home); nothing else from another site passes.
func TestDashboardCrossSite(t *testing.T) {
	rig := newAuthRig(t)
	c := &dashClient{t: t, base: rig.url}
	c.login(rig.admin)
	resp, _ := c.do("GET", "/approvals", nil, "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a cross-site link to a page: %s", resp.Status)
	}
	if resp, _ := c.do("GET", "/rollouts/1/live", nil, "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "cors"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a cross-site fetch of a fragment: %s", resp.Status)
	}
	if resp, _ := c.do("GET", "/api/v1/status", nil, "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a cross-site navigation to the API: %s", resp.Status)
	}
	form := url.Values{"csrf": {c.csrf("/")}}
	if resp, _ := c.do("POST", "/logout", form, "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a cross-site form post: %s", resp.Status)
	}
}

// TestDashboardCookieSecureOverTLS: over TLS the session cookie is Secure.
func TestDashboardCookieSecureOverTLS(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		s := &Server{}
		if tlsOn {
			s.d.TLS = &tls.Config{}
		}
		w := httptest.NewRecorder()
		s.setSession(w, "x")
		c := w.Result().Cookies()
		if len(c) != 1 || c[0].Secure != tlsOn || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode {
			t.Errorf("TLS %v: cookie %+v", tlsOn, c)
		}
	}
}

// TestDashboardFormAcrossServers: servers behind one address share a store;
// a page served by one and its form posted to another must work (a load
// balancer does not keep a browser on one replica).
func TestDashboardFormAcrossServers(t *testing.T) {
	rig := newAuthRig(t)
	staging := strconv.FormatInt(rig.rollouts["staging"], 10)
	s2, err := New(rig.srv.d)
	if err != nil {
		t.Fatal(err)
	}
	h2 := s2.Handler()
	hs2 := httptest.NewServer(h2)
	t.Cleanup(hs2.Close)

	one := &dashClient{t: t, base: rig.url}
	one.login(rig.token("dora", "deployer", "staging"))
	tok := one.csrf("/rollouts/" + staging)
	two := &dashClient{t: t, base: hs2.URL, session: one.session}
	resp, _ := two.do("POST", "/act", url.Values{"csrf": {tok}, "action": {"abort"}, "rollout": {staging},
		"reason": {"posted to the other replica"}, "next": {"/approvals"}})
	if f := flashOf(t, resp); !strings.HasPrefix(f.OK, "abort of rollout") {
		t.Fatalf("a form from one server posted to another: %s → %+v", resp.Status, f)
	}
}

// TestDashboardPagesRedactSecrets: a secret value that reached the store
// (an audit reason written before the value was known as a secret) is not
// shown on a page, in any escaped form, as the API does not show it.
func TestDashboardPagesRedactSecrets(t *testing.T) {
	rig := newAuthRig(t)
	const value = "p4ss+w0rd<&>'only-here"
	if _, err := rig.st.AppendAudit(context.Background(), store.AuditEntry{At: time.Now().UTC(), Actor: "ci", Action: "release.create",
		Subject: "hello", Reason: "deployed with " + value}); err != nil {
		t.Fatal(err)
	}
	rig.secrets().Redactor.Add("DB_PASSWORD", value)
	viewer := &dashClient{t: t, base: rig.url}
	viewer.login(rig.token("vera", "viewer"))
	_, body := viewer.do("GET", "/audit", nil)
	if !strings.Contains(body, "deployed with [redacted DB_PASSWORD]") || strings.Contains(body, "only-here") {
		t.Fatalf("the audit page shows a secret value:\n%s", body)
	}
}
