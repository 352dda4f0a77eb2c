package server

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/store"
)

// mark is a vertical line on a chart: a deploy, a step of the canary, a
// promotion, a rollback, a flag change or an infrastructure apply.
type mark struct {
	At          time.Time
	Kind, Label string
}

// transitionMarks are a rollout's deploys, steps, promotions and rollbacks.
func transitionMarks(v api.RolloutView) []mark {
	var out []mark
	rolledBack := false
	for _, t := range v.Transitions {
		switch t.To {
		case rollout.Deploying:
			out = append(out, mark{t.At, "deploy", "deploy " + v.Version})
		case rollout.Canary:
			if t.From != rollout.Paused { // a resume goes on with the same step
				out = append(out, mark{t.At, "step", fmt.Sprintf("step %d", t.Step+1)})
			}
		case rollout.Promoting:
			out = append(out, mark{t.At, "promote", "promote"})
		case rollout.RollingBack:
			out = append(out, mark{t.At, "rollback", "rollback"})
			rolledBack = true
		case rollout.RolledBack:
			if !rolledBack {
				out = append(out, mark{t.At, "rollback", "rollback"})
			}
		}
	}
	return out
}

// flagLog is the flag changes and infrastructure applies of the audit log, read incrementally so that
// a live chart does not read the whole log at every refresh.
type flagLog struct {
	mu      sync.Mutex
	last    int64 // the last audit entry read
	changes []flagChange
}

type flagChange struct {
	At                   time.Time
	Env, Flag, Op, Actor string
	Infra                string // "plan/N" for an infrastructure apply (audit infra.apply), else a flag change
}

// maxFlagChanges bounds the flag changes kept for charts.
const maxFlagChanges = 2000

// refreshFlags reads the audit entries appended since the last call and
// returns the ID of the newest.
func (s *Server) refreshFlags(r *http.Request) int64 {
	l := &s.dash.flags
	l.mu.Lock()
	defer l.mu.Unlock()
	const page = 1000
	for {
		es, err := s.d.Store.AuditSince(r.Context(), l.last, page)
		if err != nil {
			s.d.Logger.Warn("dashboard: audit log not read for flag changes", "err", err)
			return l.last
		}
		for _, e := range es {
			l.last = e.ID
			if e.Action == "infra.apply" { // an applied infrastructure plan: a marker in its environment
				var d struct {
					Environment string `json:"environment"`
				}
				if json.Unmarshal(e.Detail, &d) == nil && d.Environment != "" {
					l.changes = append(l.changes, flagChange{At: e.At, Env: d.Environment, Infra: e.Subject, Actor: e.Actor})
				}
				continue
			}
			rest, ok := strings.CutPrefix(e.Subject, "flag/")
			if !ok || !strings.HasPrefix(e.Action, "flag.") {
				continue
			}
			env, flag, _ := strings.Cut(rest, "/")
			l.changes = append(l.changes, flagChange{At: e.At, Env: env, Flag: flag, Op: strings.TrimPrefix(e.Action, "flag."), Actor: e.Actor})
		}
		if len(l.changes) > maxFlagChanges {
			l.changes = l.changes[len(l.changes)-maxFlagChanges:]
		}
		if len(es) < page {
			return l.last
		}
	}
}

// flagMarks are the flag changes in env between from and to.
func (s *Server) flagMarks(r *http.Request, env string, from, to time.Time) []mark {
	s.refreshFlags(r)
	l := &s.dash.flags
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []mark
	for _, c := range l.changes {
		switch {
		case c.Env != env || c.At.Before(from) || c.At.After(to):
		case c.Infra != "":
			out = append(out, mark{c.At, "infra", "infrastructure apply " + c.Infra})
		default:
			out = append(out, mark{c.At, "flag", fmt.Sprintf("flag %s %s", c.Flag, c.Op)})
		}
	}
	return out
}

// Chart geometry, in SVG user units.
const (
	chartW, panelH       = 760, 140
	padL, padR, padT     = 60, 16, 22
	padB, panelGap       = 20, 34
	plotW                = chartW - padL - padR
	plotH                = panelH - padT - padB
	newColor, oldColor   = "#d9480f", "#1c7ed6"
	markColor, flagColor = "#495057", "#9c36b5"
	infraColor           = "#2b8a3e"
)

// chart draws the error rate and p95 latency of each version over
// [from, to], one point per sample, with a line at every mark.
func chart(ss []store.Sample, canary, stable string, from, to time.Time, marks []mark) template.HTML {
	if !to.After(from) {
		to = from.Add(time.Second)
	}
	span := to.Sub(from).Seconds()
	x := func(t time.Time) float64 { return padL + plotW*math.Min(math.Max(t.Sub(from).Seconds()/span, 0), 1) }
	type series struct {
		version, color, role string
	}
	vs := []series{{canary, newColor, "new"}}
	if stable != "" {
		vs = append(vs, series{stable, oldColor, "stable"})
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="error rate and p95 latency per version">`, chartW, 2*panelH+panelGap)
	panels := []struct {
		title, unit string
		value       func(store.Sample) (float64, bool)
		floor       float64
	}{
		{"error rate", "%", func(s store.Sample) (float64, bool) {
			return 100 * float64(s.Errors) / float64(max(s.Requests, 1)), s.Requests > 0
		}, 1},
		{"p95 latency", "ms", func(s store.Sample) (float64, bool) {
			if s.P95 == nil {
				return 0, false
			}
			return *s.P95 * 1000, true
		}, 10},
	}
	for i, p := range panels {
		top := float64(i * (panelH + panelGap))
		top0 := top + padT
		hi := p.floor
		for _, s := range ss {
			if v, ok := p.value(s); ok && v > hi {
				hi = v
			}
		}
		hi = niceCeil(hi)
		y := func(v float64) float64 { return top0 + plotH*(1-v/hi) }
		fmt.Fprintf(&b, `<g class="panel" data-panel="%s">`, p.title)
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" class="ptitle">%s (%s)</text>`, padL, top+14, p.title, p.unit)
		fmt.Fprintf(&b, `<rect x="%d" y="%.0f" width="%d" height="%d" fill="none" stroke="#ced4da"/>`, padL, top0, plotW, plotH)
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" text-anchor="end" class="axis">%s</text>`, padL-6, top0+8, fmtAxis(hi))
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" text-anchor="end" class="axis">0</text>`, padL-6, top0+plotH)
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" class="axis">0s</text>`, padL, top0+plotH+14)
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" text-anchor="end" class="axis">%s</text>`, padL+plotW, top0+plotH+14, roundDur(to.Sub(from)))
		for _, v := range vs {
			var pts []string
			for _, s := range ss {
				if s.Version != v.version {
					continue
				}
				if val, ok := p.value(s); ok {
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s.At), y(val)))
				}
			}
			fmt.Fprintf(&b, `<polyline class="series" data-version="%s" data-role="%s" data-points="%d" fill="none" stroke="%s" stroke-width="1.6" points="%s"/>`,
				template.HTMLEscapeString(v.version), v.role, len(pts), v.color, strings.Join(pts, " "))
		}
		for _, m := range marks {
			color := markColor
			switch m.Kind {
			case "flag":
				color = flagColor
			case "infra":
				color = infraColor
			}
			if m.Kind == "rollback" {
				color = "#e03131"
			}
			mx := x(m.At)
			fmt.Fprintf(&b, `<g class="marker" data-kind="%s"><title>%s at %s</title><line x1="%.1f" x2="%.1f" y1="%.0f" y2="%.0f" stroke="%s" stroke-dasharray="4 3"/>`,
				m.Kind, template.HTMLEscapeString(m.Label), m.At.UTC().Format(time.TimeOnly), mx, mx, top0, top0+plotH, color)
			if i == 0 {
				fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" class="mlabel" fill="%s">%s</text>`, mx+2, top0+10, color, template.HTMLEscapeString(m.Label))
			}
			b.WriteString(`</g>`)
		}
		b.WriteString(`</g>`)
	}
	for i, v := range vs {
		lx := float64(padL + 150 + i*280)
		fmt.Fprintf(&b, `<g class="legend"><line x1="%.0f" x2="%.0f" y1="10" y2="10" stroke="%s" stroke-width="3"/><text x="%.0f" y="14" class="axis">%s %s</text></g>`,
			lx, lx+16, v.color, lx+20, v.role, template.HTMLEscapeString(v.version))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func fmtAxis(v float64) string {
	if v >= 10 {
		return fmt.Sprintf("%.0f", v)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}
