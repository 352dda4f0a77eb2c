package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/auth"
	"github.com/belay-dev/belay/internal/dora"
	"github.com/belay-dev/belay/internal/explain"
	"github.com/belay-dev/belay/internal/orchestrate"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/target"
)

// Frame is what every page shows around its content.
type Frame struct {
	Title   string
	Who     auth.Identity
	CSRF    string
	OK, Err string // the outcome of the last button, from its flash cookie
	Here    string // this page's path and query, where a button comes back to
}

func (s *Server) Frame(r *http.Request, title string) Frame {
	csrf, _ := r.Context().Value(csrfKey{}).(string)
	f, _ := r.Context().Value(flashKey{}).(flash)
	return Frame{Title: title, Who: identity(r), CSRF: csrf, OK: f.OK, Err: f.Err, Here: r.URL.Path}
}

// button is whether the session's role may use a button, and if not why.
type button struct {
	Allowed bool
	Why     string
}

// may asks the API's authorization whether the session may do a in env.
func may(r *http.Request, a auth.Action, env string) button {
	if err := identity(r).Can(a, env); err != nil {
		return button{Why: err.Error()}
	}
	return button{Allowed: true}
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := statusOf(err)
	if code >= 500 {
		s.d.Logger.Error("dashboard", "path", r.URL.Path, "err", err)
	}
	http.Error(w, s.redact().String(err.Error()), code)
}

// ---- overview

type ovCell struct {
	Env               string
	Version, Digest   string
	Previous          string
	Health, HealthCSS string
	Rollout           *ovRollout
	SLO               *ovSLO // the service's SLO here, when it declares one
}

// ovSLO is an SLO's state in one environment, as `belay slo` tells it.
type ovSLO struct {
	Objective, Window string
	Status            string // ok, ticket, page, no_data
	BudgetLeft        string // "87.5%", "-12%" once the objective is missed, "" without data
	CSS               string
}

type ovRollout struct {
	ID                      int64
	Version, Phase          string
	Step, Steps             int
	Weight                  float64
	WatchLeft, Decision     string
	AwaitingApproval, Pause bool
}

type ovRow struct {
	Service string
	Cells   []ovCell
	DORA    doraCell
}

type doraCell struct {
	Deployments                 int
	PerWeek, LeadTime, CFR, TTR string
}

type overviewPage struct {
	Frame
	Environments []string
	DORAEnv      string
	Rows         []ovRow
	// Drift is each environment's infrastructure drift as last recorded
	// (none when no environment has resources belay applied).
	Drift []ovDrift
}

// ovDrift is one environment's recorded infrastructure drift.
type ovDrift struct {
	Env, Text, CSS string
}

// driftCells reads each environment's recorded drift (belay drift, the
// scheduled check); nil when belay applied nothing anywhere.
func (s *Server) driftCells(ctx context.Context, envs []string) ([]ovDrift, error) {
	var out []ovDrift
	applied := false
	for _, env := range envs {
		rows, err := s.d.Store.InfraResources(ctx, env)
		if err != nil {
			return nil, err
		}
		c := ovDrift{Env: env, Text: "—"}
		if len(rows) > 0 {
			applied = true
			c.Text, c.CSS = fmt.Sprintf("%d resources, no drift recorded", len(rows)), "ok"
		}
		var drifted []string
		acked := 0
		for _, r := range rows {
			if r.DriftHash == "" {
				continue
			}
			var ds []struct {
				Field string `json:"field"`
				Found string `json:"found"`
			}
			_ = json.Unmarshal(r.Drift, &ds)
			var fields []string
			for _, d := range ds {
				fields = append(fields, fmt.Sprintf("%s=%q", d.Field, d.Found))
			}
			note := ""
			if r.DriftAck == r.DriftHash {
				note, acked = " (acknowledged)", acked+1
			}
			drifted = append(drifted, fmt.Sprintf("%s/%s %s%s", r.Kind, r.Name, strings.Join(fields, " "), note))
		}
		if len(drifted) > 0 {
			c.Text, c.CSS = "drift: "+strings.Join(drifted, "; "), "bad"
			if acked == len(drifted) {
				c.CSS = "warn"
			}
		}
		out = append(out, c)
	}
	if !applied {
		return nil, nil
	}
	return out, nil
}

func (s *Server) getOverview(w http.ResponseWriter, r *http.Request) {
	p, err := s.overview(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, http.StatusOK, "overview", p)
}

// overview reads every service in every environment: one query for the
// rollouts in flight, one for the current and previous stable versions,
// and dora.Load's for the last environment.
func (s *Server) overview(r *http.Request) (overviewPage, error) {
	ctx := r.Context()
	page := overviewPage{Frame: s.Frame(r, "Environments")}
	proj, err := s.Project()
	if err != nil {
		return page, err
	}
	envs := proj.EnvironmentNames()
	page.Environments = envs
	active, err := s.d.Store.ListRollouts(ctx, store.RolloutFilter{Active: true})
	if err != nil {
		return page, err
	}
	running := map[[2]string]store.Rollout{}
	for _, row := range active {
		running[[2]string{row.Service, row.Environment}] = row
	}
	latest, err := s.d.Store.LatestStables(ctx, 2)
	if err != nil {
		return page, err
	}
	stables := map[[2]string][]store.StableVersion{}
	for _, v := range latest {
		k := [2]string{v.Service, v.Environment}
		stables[k] = append(stables[k], v)
	}
	now := s.d.Now()
	byService := map[string][]dora.Rollout{}
	if len(envs) > 0 {
		page.DORAEnv = envs[len(envs)-1]
		rs, err := dora.Load(ctx, s.d.Store, "", page.DORAEnv, now.Add(-30*24*time.Hour))
		if err != nil {
			return page, err
		}
		for _, x := range rs {
			byService[x.Service] = append(byService[x.Service], x)
		}
	}
	for _, svc := range proj.ServiceNames() {
		decl := proj.Services[svc]
		row := ovRow{Service: svc, DORA: doraOf(dora.Compute(byService[svc], now.Add(-30*24*time.Hour), now))}
		for _, env := range envs {
			c := ovCell{Env: env}
			hist := stables[[2]string{svc, env}]
			if len(hist) > 0 {
				c.Version, c.Digest = hist[0].Version, shortDigest(hist[0].Digest)
			}
			if len(hist) > 1 {
				c.Previous = hist[1].Version
			}
			c.Health, c.HealthCSS = s.health(r, env, svc)
			if ro, ok := running[[2]string{svc, env}]; ok {
				c.Rollout = rolloutSummary(ro, now)
			}
			if decl != nil && decl.SLO != nil {
				c.SLO = sloCell(s.sloCached(ctx, decl, env))
			}
			row.Cells = append(row.Cells, c)
		}
		page.Rows = append(page.Rows, row)
	}
	if page.Drift, err = s.driftCells(ctx, envs); err != nil {
		return page, err
	}
	return page, nil
}

func sloCell(st api.SLOStatus) *ovSLO {
	c := &ovSLO{Objective: st.Objective, Window: st.Window, Status: st.Status, CSS: "ok"}
	if st.BudgetLeft != nil {
		c.BudgetLeft = strconv.FormatFloat(math.Round(*st.BudgetLeft*1000)/10, 'f', -1, 64) + "%"
	}
	switch st.Status {
	case "page":
		c.CSS = "bad"
	case "ticket", "no_data":
		c.CSS = "none"
	}
	return c
}

func rolloutSummary(ro store.Rollout, now time.Time) *ovRollout {
	v := &ovRollout{ID: ro.ID, Version: ro.Version, Phase: ro.Phase, AwaitingApproval: ro.Phase == string(rollout.AwaitingApproval), Pause: ro.Phase == string(rollout.Paused)}
	var st rollout.State
	if json.Unmarshal(ro.State, &st) == nil {
		v.Steps = len(st.Steps)
		if st.Step >= 0 && st.Step < len(st.Steps) {
			v.Step, v.Weight = st.Step+1, st.Steps[st.Step].Weight
		}
		if st.Phase == rollout.Watching {
			v.WatchLeft = st.WatchLeft(now).Round(time.Second).String()
		}
		if st.LastVerdict != nil {
			v.Decision = string(st.LastVerdict.Decision)
		}
	}
	return v
}

// health says how many of a service's instances in env are ready.
func (s *Server) health(r *http.Request, env, svc string) (string, string) {
	obs, err := s.d.Target.Observe(r.Context(), env, svc)
	if errors.Is(err, target.ErrNotFound) {
		return "not running", "none"
	}
	if err != nil {
		return "unknown: " + err.Error(), "bad"
	}
	var inst, ready int
	for _, v := range obs.Versions {
		inst += v.Instances
		ready += v.Ready
	}
	switch {
	case inst == 0:
		return "not running", "none"
	case ready < inst:
		return fmt.Sprintf("%d/%d ready", ready, inst), "bad"
	}
	return fmt.Sprintf("%d/%d ready", ready, inst), "ok"
}

func doraOf(f dora.Figures) doraCell {
	c := doraCell{Deployments: f.Deployments, PerWeek: fmt.Sprintf("%.1f/wk", f.PerWeek), LeadTime: "–", CFR: "–", TTR: "–"}
	if f.LeadTime.N > 0 {
		c.LeadTime = roundDur(f.LeadTime.Median)
	}
	if f.FailureRate != nil {
		c.CFR = fmt.Sprintf("%.0f%%", *f.FailureRate*100)
	}
	if f.TimeToRestore.N > 0 {
		c.TTR = roundDur(f.TimeToRestore.Median)
	}
	return c
}

func roundDur(d time.Duration) string {
	switch {
	case d >= time.Hour:
		return d.Round(time.Minute).String()
	case d >= time.Minute:
		return d.Round(time.Second).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		d = d[:12]
	}
	return d
}

// ---- live rollout view

type versionStats struct {
	Version, Role             string
	Rate, ErrorRate, P95      string
	Requests, Errors, Samples int64
}

type liveView struct {
	ID                   int64
	Release              int64
	Service, Environment string
	Version, Stable      string
	Phase, Kind, Reason  string
	Terminal             bool
	Step, Steps          int
	Weight               float64
	StepsList            []rollout.Step
	WatchLeft            string
	Verdict              *analysis.Verdict
	Summary              *explain.Decision
	Transitions          []liveTransition
	Versions             []versionStats
	Chart                template.HTML
	UpdatedAt            time.Time
}

type liveTransition struct {
	Offset       string
	From, To     string
	Override     string
	Reason       string
	Story        []string
	Verdict      *analysis.Verdict
	StepOfWeight string
}

type rolloutPage struct {
	Frame
	Live            liveView
	Abort, Rollback button
}

func (s *Server) getRolloutPage(w http.ResponseWriter, r *http.Request) {
	lv, err := s.live(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := rolloutPage{Frame: s.Frame(r, fmt.Sprintf("Rollout %d", lv.ID)), Live: lv,
		Abort: may(r, auth.Abort, lv.Environment), Rollback: may(r, auth.Rollback, lv.Environment)}
	s.render(w, http.StatusOK, "rollout", p)
}

func (s *Server) getRolloutLive(w http.ResponseWriter, r *http.Request) {
	lv, err := s.live(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, http.StatusOK, "live", lv)
}

// live is what `belay explain` tells of a rollout, with its per-version
// measurements and chart.
func (s *Server) live(r *http.Request) (liveView, error) {
	ctx := r.Context()
	id, err := orchestrate.ParseID("rollout", r.PathValue("id"))
	if err != nil {
		return liveView{}, err
	}
	v, err := s.orch.Explain(ctx, id)
	if err != nil {
		return liveView{}, err
	}
	lv := liveView{ID: v.ID, Release: v.Release, Service: v.Service, Environment: v.Environment, Version: v.Version,
		Phase: v.Phase, Kind: string(v.Kind), Reason: v.Reason, Terminal: v.Terminal, WatchLeft: v.WatchLeft,
		Summary: v.Summary, UpdatedAt: v.UpdatedAt}
	var st rollout.State
	if json.Unmarshal(v.State, &st) == nil {
		lv.Steps, lv.StepsList = len(st.Steps), st.Steps
		if st.Step >= 0 && st.Step < len(st.Steps) {
			lv.Step, lv.Weight = st.Step+1, st.Steps[st.Step].Weight
		}
		if st.Stable != nil {
			lv.Stable = st.Stable.Version
		}
		lv.Verdict = st.LastVerdict
	}
	stories := map[int64][]string{}
	for _, d := range v.Decisions {
		stories[d.Seq] = d.Story
	}
	for i, t := range v.Transitions {
		if explain.Bookkeeping(v.Transitions, i) {
			continue
		}
		lt := liveTransition{Offset: fmt.Sprintf("%+.1fs", t.At.Sub(v.CreatedAt).Seconds()), From: string(t.From), To: string(t.To),
			Reason: t.Reason, Story: stories[t.Seq], Verdict: t.Verdict}
		if t.Override {
			lt.Override = t.Actor
		}
		lv.Transitions = append(lv.Transitions, lt)
	}
	samples, err := s.d.Store.SamplesOf(ctx, id)
	if err != nil {
		return lv, err
	}
	lv.Versions = recentStats(samples, lv.Version, lv.Stable)
	marks := transitionMarks(v)
	end := s.d.Now()
	if v.Terminal {
		end = v.UpdatedAt
	}
	marks = append(marks, s.flagMarks(r, v.Environment, v.CreatedAt, end)...)
	lv.Chart = chart(samples, lv.Version, lv.Stable, v.CreatedAt, end, marks)
	return lv, nil
}

// statsWindow is how far back the per-version figures of a live rollout look.
const statsWindow = 10 * time.Second

// recentStats sums each version's samples over the last statsWindow.
func recentStats(ss []store.Sample, canary, stable string) []versionStats {
	var out []versionStats
	for _, ver := range []struct{ v, role string }{{canary, "new"}, {stable, "stable"}} {
		if ver.v == "" {
			continue
		}
		vs := versionStats{Version: ver.v, Role: ver.role, Rate: "–", ErrorRate: "–", P95: "–"}
		var last, first time.Time
		for i := len(ss) - 1; i >= 0; i-- {
			x := ss[i]
			if x.Version != ver.v {
				continue
			}
			if last.IsZero() {
				last = x.At
				if x.P95 != nil {
					vs.P95 = fmt.Sprintf("%.0f ms", *x.P95*1000)
				}
			}
			if last.Sub(x.At) > statsWindow {
				break
			}
			first = x.At
			vs.Requests += x.Requests
			vs.Errors += x.Errors
			vs.Samples++
		}
		if vs.Samples > 0 {
			span := max(last.Sub(first), time.Second) // the first sample covers about a second of its own
			if vs.Samples > 1 {
				span += last.Sub(first) / time.Duration(vs.Samples-1)
			}
			vs.Rate = fmt.Sprintf("%.1f/s", float64(vs.Requests)/span.Seconds())
			if vs.Requests > 0 {
				vs.ErrorRate = fmt.Sprintf("%.2f%%", 100*float64(vs.Errors)/float64(vs.Requests))
			}
		}
		out = append(out, vs)
	}
	return out
}

// ---- timeline

type timelineRow struct {
	ID                   int64
	Version, Kind, Phase string
	Outcome, OutcomeCSS  string
	Started, Ended       string
	Took, Reason         string
}

type timelinePage struct {
	Frame
	Service, Environment string
	Stable               []store.StableVersion
	Rows                 []timelineRow
	Rollback             button
}

func (s *Server) getTimeline(w http.ResponseWriter, r *http.Request) {
	svc, env := r.PathValue("service"), r.PathValue("env")
	ctx := r.Context()
	rows, err := s.d.Store.History(ctx, svc, env)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	hist, err := s.d.Store.StableHistory(ctx, svc, env)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := timelinePage{Frame: s.Frame(r, svc+" in "+env), Service: svc, Environment: env, Stable: hist, Rollback: may(r, auth.Rollback, env)}
	for _, row := range rows {
		v := s.orch.View(row, false)
		tr := timelineRow{ID: row.ID, Version: row.Version, Kind: string(v.Kind), Phase: row.Phase, Reason: v.Reason,
			Started: row.CreatedAt.UTC().Format(time.DateTime)}
		switch {
		case !row.Terminal:
			tr.Outcome, tr.OutcomeCSS = "in flight", "run"
		case row.Phase == string(rollout.Succeeded):
			tr.Outcome, tr.OutcomeCSS = "succeeded", "ok"
		default:
			tr.Outcome, tr.OutcomeCSS = "failed", "bad"
			if row.Phase == string(rollout.RolledBack) {
				tr.Outcome = "rolled back"
			}
		}
		if row.Terminal {
			tr.Ended = row.UpdatedAt.UTC().Format(time.DateTime)
			tr.Took = roundDur(row.UpdatedAt.Sub(row.CreatedAt))
		}
		p.Rows = append(p.Rows, tr)
	}
	s.render(w, http.StatusOK, "timeline", p)
}

// ---- approvals

type pendingRow struct {
	ovRollout
	Release   int64
	Service   string
	Env       string
	Since     string
	Approvals []store.Approval
	Approve   button
	Abort     button
	Rollback  button
}

type approvalsPage struct {
	Frame
	Waiting, InFlight []pendingRow
}

func (s *Server) getApprovals(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	rows, err := s.d.Store.ListRollouts(ctx, store.RolloutFilter{Active: true})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := approvalsPage{Frame: s.Frame(r, "Approvals")}
	now := s.d.Now()
	for _, row := range rows {
		pr := pendingRow{ovRollout: *rolloutSummary(row, now), Release: row.ReleaseID, Service: row.Service, Env: row.Environment,
			Since: roundDur(now.Sub(row.UpdatedAt)), Approve: may(r, auth.Approve, row.Environment),
			Abort: may(r, auth.Abort, row.Environment), Rollback: may(r, auth.Rollback, row.Environment)}
		if pr.AwaitingApproval {
			if pr.Approvals, err = s.d.Store.Approvals(ctx, row.ReleaseID, row.Environment); err != nil {
				s.fail(w, r, err)
				return
			}
			p.Waiting = append(p.Waiting, pr)
		} else {
			p.InFlight = append(p.InFlight, pr)
		}
	}
	s.render(w, http.StatusOK, "approvals", p)
}

// ---- audit trail

// auditPageSize is how many entries the audit page shows at once.
const auditPageSize = 100

type auditPage struct {
	Frame
	Entries            []api.AuditEntry
	Prev, Next, Newest int64
	HasPrev, HasNext   bool
}

func (s *Server) getAuditPage(w http.ResponseWriter, r *http.Request) {
	if err := s.allow(r, auth.Read, ""); err != nil {
		s.fail(w, r, err)
		return
	}
	last := s.refreshFlags(r)
	after := max(last-auditPageSize, 0)
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			s.fail(w, r, fmt.Errorf("%w: after=%q: give an entry ID (0 or more)", orchestrate.ErrBadRequest, v))
			return
		}
		after = n
	}
	es, err := s.d.Store.AuditSince(r.Context(), after, auditPageSize)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := auditPage{Frame: s.Frame(r, "Audit trail"), Prev: max(after-auditPageSize, 0), HasPrev: after > 0}
	for _, e := range es {
		p.Entries = append(p.Entries, auditEntry(e))
	}
	if len(es) == auditPageSize {
		p.Next, p.HasNext = es[len(es)-1].ID, true
	}
	slices.Reverse(p.Entries) // newest first
	s.render(w, http.StatusOK, "audit", p)
}
