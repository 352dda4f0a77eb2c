package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/auth"
)

// The web dashboard: server-rendered pages on the API's address, for people
// with a browser and an API token. A person logs in with a token, which
// the server checks exactly as it checks a bearer token (identify) on
// every page, so an expired or revoked token ends the session at once. The
// token is kept in an HttpOnly, SameSite=Strict cookie (Secure over TLS).
// Every button that changes something is a POST carrying a CSRF token and
// goes through the API's own handler for that action (approve, abort,
// rollback), so the API's authorization, policy audit and orchestrator
// decide it, as for `belay approve`, `belay abort` and `belay rollback`.
// Pages hide no policy of their own: a button the token's role may not use
// is shown disabled, with what it needs, from the same auth.Identity.Can.

//go:embed web
var webFS embed.FS

// sessionCookie holds the dashboard's token.
const sessionCookie = "belay_session"

// maxForm bounds a dashboard form's body.
const maxForm = 64 << 10

// dashState is the dashboard's per-server state.
type dashState struct {
	once  sync.Once
	pages *template.Template
	flags flagLog
}

func (s *Server) dashInit() {
	s.dash.once.Do(func() {
		s.dash.pages = template.Must(template.New("").Funcs(pageFuncs).ParseFS(webFS, "web/*.html"))
	})
}

// dashboard serves the dashboard's pages and hands every other path to
// apiHandler; inner is the API's mux without authentication, which the
// dashboard's actions call with the session's identity.
func (s *Server) dashboard(inner, apiHandler http.Handler) http.Handler {
	s.dashInit()
	mux := http.NewServeMux()
	static, _ := fs.Sub(webFS, "web/static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	// Browsers ask for an icon with every page; without an answer here the
	// API would count each ask as a failed authentication.
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /login", s.getLogin)
	mux.HandleFunc("POST /login", s.postLogin)
	mux.HandleFunc("POST /logout", s.page(s.postLogout))
	mux.HandleFunc("GET /{$}", s.page(s.getOverview))
	mux.HandleFunc("GET /rollouts/{id}", s.page(s.getRolloutPage))
	mux.HandleFunc("GET /rollouts/{id}/live", s.page(s.getRolloutLive))
	mux.HandleFunc("GET /timeline/{service}/{env}", s.page(s.getTimeline))
	mux.HandleFunc("GET /approvals", s.page(s.getApprovals))
	mux.HandleFunc("GET /audit", s.page(s.getAuditPage))
	mux.HandleFunc("POST /act", s.page(func(w http.ResponseWriter, r *http.Request) { s.postAct(w, r, inner) }))
	mux.Handle("/", apiHandler)
	guarded := sameOrigin(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		// A link from another site may open a page (a GET changes nothing,
		// and the SameSite=Strict cookie does not come with it: the login
		// form shows); anything else from another origin is refused, as the
		// API refuses it.
		if r.Method == http.MethodGet && r.Header.Get("Sec-Fetch-Mode") == "navigate" && r.Header.Get("Origin") == "" {
			mux.ServeHTTP(w, r)
			return
		}
		guarded.ServeHTTP(w, r)
	})
}

// page runs next for a logged-in person only: the session's token is
// checked as the API checks a bearer token, every time.
func (s *Server) page(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		fragment := r.Header.Get("X-Belay-Fragment") != ""
		c, err := r.Cookie(sessionCookie)
		if err != nil || c.Value == "" {
			s.toLogin(w, r, fragment, "")
			return
		}
		now := s.d.Now()
		client := clientAddr(r)
		if blocked, wait := s.failures.Blocked(client, now); blocked {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			http.Error(w, fmt.Sprintf("too many failed authentications from %s: try again in %s", client, wait.Round(time.Second)+time.Second), http.StatusTooManyRequests)
			return
		}
		id, err := s.identify(r.Context(), "Bearer "+c.Value, now)
		if err != nil {
			s.failures.Failed(client, now)
			s.audit(r, "anonymous", "denied.authenticate", err)
			s.clearSession(w)
			s.toLogin(w, r, fragment, "Your session ended: "+err.Error())
			return
		}
		ctx := context.WithValue(r.Context(), identityKey{}, id)
		ctx = context.WithValue(ctx, csrfKey{}, csrf(c.Value))
		if !fragment {
			ctx = context.WithValue(ctx, flashKey{}, s.takeFlash(w, r))
		}
		w.Header().Set("Cache-Control", "no-store")
		next(w, r.WithContext(ctx))
	}
}

type csrfKey struct{}

type flashKey struct{}

// csrf is the CSRF token of a session: an HMAC keyed with the session's
// token (a secret the page's scripts and other sites never see: the cookie
// is HttpOnly), so it needs no storage, changes with the token, and every
// server behind one address computes the same one.
func csrf(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("belay dashboard csrf"))
	return hex.EncodeToString(m.Sum(nil))
}

// checkCSRF compares the form's CSRF token with the session's.
func checkCSRF(r *http.Request) error {
	want, _ := r.Context().Value(csrfKey{}).(string)
	if want == "" || !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(want)) {
		return fmt.Errorf("%w: the form's CSRF token is missing or stale: reload the page and try again", auth.ErrDenied)
	}
	return nil
}

func (s *Server) toLogin(w http.ResponseWriter, r *http.Request, fragment bool, msg string) {
	if fragment {
		http.Error(w, "not logged in", http.StatusUnauthorized)
		return
	}
	if msg != "" {
		s.setFlash(w, flash{Err: msg})
	}
	http.Redirect(w, r, "/login?"+url.Values{"next": {r.URL.RequestURI()}}.Encode(), http.StatusSeeOther)
}

func (s *Server) setSession(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.d.TLS != nil})
}

// flashCookie carries the outcome of the last button (or why a session
// ended) to the page the browser is sent to next, once. Not the query: a
// link from anywhere could put words in it.
const flashCookie = "belay_flash"

// flash is a message for the next page.
type flash struct {
	OK  string `json:"ok,omitempty"`
	Err string `json:"err,omitempty"`
}

// maxFlash bounds a flash message (a cookie holds about 4 KB).
const maxFlash = 1500

func (s *Server) setFlash(w http.ResponseWriter, f flash) {
	cut := func(m string) string {
		if len(m) > maxFlash {
			return strings.ToValidUTF8(m[:maxFlash], "") + "…"
		}
		return m
	}
	f.OK, f.Err = cut(f.OK), cut(f.Err)
	b, _ := json.Marshal(f)
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString(b), Path: "/", MaxAge: 60,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.d.TLS != nil})
}

// takeFlash reads the flash message, if any, and clears it so it shows once.
func (s *Server) takeFlash(w http.ResponseWriter, r *http.Request) flash {
	var f flash
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return f
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.d.TLS != nil})
	if b, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil {
		_ = json.Unmarshal(b, &f)
	}
	return f
}

func (s *Server) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.d.TLS != nil})
}

// localPath is next when it is a path on this server, else "/".
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.HasPrefix(next, "/login") ||
		strings.ContainsFunc(next, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return "/" // browsers drop tabs and newlines and read \ as /: "/\t/x.example" would leave the site
	}
	if u, err := url.Parse(next); err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}

type loginPage struct {
	Next, Error string
}

func (s *Server) getLogin(w http.ResponseWriter, r *http.Request) {
	s.render(w, http.StatusOK, "login", loginPage{Next: localPath(r.URL.Query().Get("next")), Error: s.takeFlash(w, r).Err})
}

// postLogin checks the token given as the API would and starts a session.
func (s *Server) postLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	next := localPath(r.PostFormValue("next"))
	token := strings.TrimSpace(r.PostFormValue("token"))
	now := s.d.Now()
	client := clientAddr(r)
	if blocked, wait := s.failures.Blocked(client, now); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		s.render(w, http.StatusTooManyRequests, "login", loginPage{Next: next,
			Error: fmt.Sprintf("Too many failed authentications from %s: try again in %s.", client, wait.Round(time.Second)+time.Second)})
		return
	}
	if _, err := s.identify(r.Context(), "Bearer "+token, now); err != nil {
		s.failures.Failed(client, now)
		s.audit(r, "anonymous", "denied.authenticate", err)
		s.render(w, http.StatusUnauthorized, "login", loginPage{Next: next, Error: err.Error()})
		return
	}
	s.setSession(w, token)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) postLogout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := checkCSRF(r); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	s.clearSession(w)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// postAct carries out a button's action through the API's handler for it,
// with the session's identity: the API authorizes, audits and acts.
func (s *Server) postAct(w http.ResponseWriter, r *http.Request, inner http.Handler) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	back := localPath(r.PostFormValue("next"))
	if err := checkCSRF(r); err != nil {
		s.audit(r, identity(r).Name, "denied.csrf", err)
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	f := r.PostForm
	reason := strings.TrimSpace(f.Get("reason"))
	var path string
	var body any
	switch act := f.Get("action"); act {
	case "approve":
		path, body = "/api/v1/releases/"+url.PathEscape(f.Get("release"))+"/approve", api.CommandRequest{Env: f.Get("environment"), Reason: reason}
	case "abort":
		path, body = "/api/v1/rollouts/"+url.PathEscape(f.Get("rollout"))+"/abort", api.CommandRequest{Reason: reason}
	case "rollback":
		path, body = "/api/v1/rollback", api.RollbackRequest{Service: f.Get("service"), CommandRequest: api.CommandRequest{Env: f.Get("environment"), Reason: reason}}
	default:
		http.Error(w, fmt.Sprintf("unknown action %q: the dashboard's buttons approve, abort or roll back", act), http.StatusBadRequest)
		return
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, path, bytes.NewReader(b))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr, req.Host = r.RemoteAddr, r.Host
	ans := &answer{header: http.Header{}, code: http.StatusOK}
	inner.ServeHTTP(ans, req)
	if ans.code == http.StatusOK {
		s.setFlash(w, flash{OK: outcome(f, ans.body.Bytes())})
	} else {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(ans.body.Bytes(), &e) != nil || e.Error == "" {
			e.Error = http.StatusText(ans.code)
		}
		s.setFlash(w, flash{Err: fmt.Sprintf("%s refused (%d): %s", f.Get("action"), ans.code, e.Error)})
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// answer keeps the API's answer to a dashboard action.
type answer struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (a *answer) Header() http.Header         { return a.header }
func (a *answer) Write(b []byte) (int, error) { return a.body.Write(b) }
func (a *answer) WriteHeader(code int)        { a.code = code }

// outcome says in words what an action the API accepted did.
func outcome(f url.Values, body []byte) string {
	var v struct {
		Phase   string `json:"phase"`
		Rollout int64  `json:"rollout"`
		From    string `json:"from"`
		To      string `json:"to"`
	}
	_ = json.Unmarshal(body, &v)
	switch f.Get("action") {
	case "approve":
		return fmt.Sprintf("release %s approved for %s: its rollout is %s", f.Get("release"), f.Get("environment"), v.Phase)
	case "abort":
		return fmt.Sprintf("abort of rollout %s accepted: it is %s", f.Get("rollout"), v.Phase)
	}
	return fmt.Sprintf("rollback of %s in %s from %s to %s started: rollout %d", f.Get("service"), f.Get("environment"), v.From, v.To, v.Rollout)
}

// render executes a page template; a failure is logged and answered 500.
func (s *Server) render(w http.ResponseWriter, code int, name string, data any) {
	var b bytes.Buffer
	if err := s.dash.pages.ExecuteTemplate(&b, name, data); err != nil {
		s.d.Logger.Error("dashboard: render", "page", name, "err", err)
		http.Error(w, "the page could not be rendered; the server's log says why", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	// Like the API's answers, pages never show a secret value the server
	// knows of, wherever it came from (an audit reason, a smoke test's answer).
	_, _ = w.Write(s.redact().Bytes(b.Bytes()))
}

// pageFuncs are the templates' helpers.
var pageFuncs = template.FuncMap{
	"pct": func(w float64) string { return strconv.FormatFloat(w, 'f', -1, 64) + "%" },
	"num": func(f float64) string {
		return strings.TrimRight(strings.TrimRight(strconv.FormatFloat(f, 'f', 4, 64), "0"), ".")
	},
	"sci": func(f float64) string { return strconv.FormatFloat(f, 'g', 3, 64) },
	"inc": func(i int) int { return i + 1 },
	// args makes a map of key, value pairs, for a template's arguments.
	"args": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, fmt.Errorf("args: odd number of arguments")
		}
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, fmt.Errorf("args: key %v is not a string", kv[i])
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
	// fields are a form's hidden fields.
	"fields": func(kv ...any) (map[string]string, error) {
		if len(kv)%2 != 0 {
			return nil, fmt.Errorf("fields: odd number of arguments")
		}
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = fmt.Sprint(kv[i+1])
		}
		return m, nil
	},
}
