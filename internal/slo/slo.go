// Package slo judges a service's availability objective: its error budget
// over the SLO window and the multi-window, multi-burn-rate alerts of the
// SRE workbook (as Sloth encodes them), as pure functions over the request
// and error counts of each window, read from a Reader.
package slo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// ErrNoData marks a reader that could not answer (down, slow, no series).
var ErrNoData = errors.New("slo: no data")

// Counts are the requests answered and those that failed (5xx or a proxy
// error) over one window.
type Counts struct {
	Requests float64 `json:"requests"`
	Errors   float64 `json:"errors"`
}

// ErrorRatio is errors ÷ requests; false without requests.
func (c Counts) ErrorRatio() (float64, bool) {
	if c.Requests <= 0 {
		return 0, false
	}
	return math.Min(math.Max(c.Errors/c.Requests, 0), 1), true
}

// Reader gives a service's counts in an environment over the window that
// ends now. A window without any series is (Counts{}, false, nil); a source
// that cannot answer returns an error wrapping ErrNoData.
type Reader interface {
	Counts(ctx context.Context, environment, service string, window time.Duration) (Counts, bool, error)
}

// Severity is who an alert goes to.
type Severity string

// Severities and the overall statuses they give.
const (
	Page   Severity = "page"   // act now
	Ticket Severity = "ticket" // act within a working day
)

// Status is an SLO's state: the most severe firing pair, ok, or no_data.
type Status string

// Statuses.
const (
	StatusOK     Status = "ok"
	StatusTicket Status = "ticket"
	StatusPage   Status = "page"
	StatusNoData Status = "no_data"
)

// Pair is one multi-window burn-rate alert: it fires when the burn rates
// over both windows exceed its factor. BudgetPercent is the share of the
// whole window's budget the long window may spend before it fires.
type Pair struct {
	Severity      Severity
	Long, Short   time.Duration
	BudgetPercent float64
}

// Pairs are the SRE workbook's four alerts, in the order they are reported.
var Pairs = []Pair{
	{Page, time.Hour, 5 * time.Minute, 2},
	{Page, 6 * time.Hour, 30 * time.Minute, 5},
	{Ticket, 24 * time.Hour, 2 * time.Hour, 10},
	{Ticket, 72 * time.Hour, 6 * time.Hour, 10},
}

// Factor is the burn rate above which the pair fires for an SLO over
// period: budget% × period_hours / 100 / long_window_hours (14.4, 6, 3 and
// 1 for 30 days).
func (p Pair) Factor(period time.Duration) float64 {
	return p.BudgetPercent * period.Hours() / 100 / p.Long.Hours()
}

// BurnRate is a window's error ratio ÷ the allowed bad fraction (1 −
// objective): 1 spends the budget exactly over the SLO window; false
// without requests.
func BurnRate(c Counts, budget float64) (float64, bool) {
	r, ok := c.ErrorRatio()
	if !ok || budget <= 0 {
		return 0, false
	}
	return r / budget, true
}

// Objective is what is judged: the good share promised over a period.
type Objective struct {
	Objective float64       // e.g. 0.999
	Window    time.Duration // e.g. 30 days
}

// Budget is the allowed bad fraction, 1 − objective, rounded to 12
// decimals: 99.9 % read as 0.9990000000000001 still allows exactly 0.1 %.
func (o Objective) Budget() float64 { return math.Round((1-o.Objective)*1e12) / 1e12 }

// Windows are the windows Evaluate reads for o: the SLO window and every
// pair's two, longest first, without repeats.
func (o Objective) Windows(pairs []Pair) []time.Duration {
	ws := []time.Duration{o.Window}
	for _, p := range pairs {
		ws = append(ws, p.Long, p.Short)
	}
	slices.SortFunc(ws, func(a, b time.Duration) int { return cmp.Compare(b, a) })
	return slices.Compact(ws)
}

// PairStatus is one pair's burn rates and whether it fires.
type PairStatus struct {
	Severity  Severity      `json:"severity"`
	Long      time.Duration `json:"long"`
	Short     time.Duration `json:"short"`
	Factor    float64       `json:"factor"`
	LongBurn  *float64      `json:"long_burn"`  // nil: no requests in the window
	ShortBurn *float64      `json:"short_burn"` // nil: no requests in the window
	Firing    bool          `json:"firing"`
	NoData    bool          `json:"no_data,omitempty"` // a window had no series
}

// Report is an SLO's state at one moment.
type Report struct {
	Objective float64       `json:"objective"`
	Window    time.Duration `json:"window"`
	// Total are the counts over the whole SLO window.
	Total Counts `json:"total"`
	// BudgetConsumed is the share of the window's error budget spent
	// (error ratio ÷ (1 − objective)); BudgetLeft is 1 − that, below 0 once
	// the objective is missed. Nil without requests.
	BudgetConsumed *float64     `json:"budget_consumed"`
	BudgetLeft     *float64     `json:"budget_left"`
	Pairs          []PairStatus `json:"pairs"`
	Status         Status       `json:"status"`
}

// Window is one window's counts, and whether it had any series.
type Window struct {
	Counts Counts
	Known  bool
}

// Evaluate judges o from the counts of each window in o.Windows(pairs):
// both windows of a pair must burn faster than its factor, pairs are
// ORed, and the status is the most severe firing pair's. A window missing
// from counts, or not Known, is no data: its pair cannot fire.
func Evaluate(o Objective, pairs []Pair, counts map[time.Duration]Window) Report {
	budget := o.Budget()
	r := Report{Objective: o.Objective, Window: o.Window, Status: StatusOK}
	if w := counts[o.Window]; w.Known {
		r.Total = w.Counts
		if burn, ok := BurnRate(w.Counts, budget); ok {
			left := 1 - burn
			r.BudgetConsumed, r.BudgetLeft = &burn, &left
		}
	}
	noData := false
	for _, p := range pairs {
		ps := PairStatus{Severity: p.Severity, Long: p.Long, Short: p.Short, Factor: p.Factor(o.Window)}
		long, short := counts[p.Long], counts[p.Short]
		ps.NoData = !long.Known || !short.Known
		ps.LongBurn, ps.ShortBurn = burnOf(long, budget), burnOf(short, budget)
		ps.Firing = !ps.NoData && ps.LongBurn != nil && ps.ShortBurn != nil &&
			*ps.LongBurn > ps.Factor && *ps.ShortBurn > ps.Factor
		noData = noData || ps.NoData
		if ps.Firing && r.Status != StatusPage {
			r.Status = Status(p.Severity)
		}
		r.Pairs = append(r.Pairs, ps)
	}
	if r.Status == StatusOK && noData {
		r.Status = StatusNoData
	}
	return r
}

func burnOf(w Window, budget float64) *float64 {
	if !w.Known {
		return nil
	}
	b, ok := BurnRate(w.Counts, budget)
	if !ok {
		return nil
	}
	return &b
}

// Read asks r for each of windows. A window the reader cannot answer fails
// the whole read, so a half-read SLO is never judged.
func Read(ctx context.Context, r Reader, environment, service string, windows []time.Duration) (map[time.Duration]Window, error) {
	out := map[time.Duration]Window{}
	for _, w := range windows {
		c, ok, err := r.Counts(ctx, environment, service, w)
		if err != nil {
			return nil, fmt.Errorf("service %s in %s, window %s: %w", service, environment, FormatWindow(w), err)
		}
		out[w] = Window{Counts: c, Known: ok}
	}
	return out, nil
}

// Judge reads and evaluates o for a service in an environment.
func Judge(ctx context.Context, r Reader, environment, service string, o Objective, pairs []Pair) (Report, error) {
	return judge(ctx, r, environment, service, o, pairs, o.Windows(pairs))
}

// JudgeBurn is Judge without the budget: it reads only the pairs' windows,
// not the whole SLO window, which is the costly read (a rollout's verdicts
// need only the burn rates).
func JudgeBurn(ctx context.Context, r Reader, environment, service string, o Objective, pairs []Pair) (Report, error) {
	ws := o.Windows(pairs)
	if !slices.ContainsFunc(pairs, func(p Pair) bool { return p.Long == o.Window || p.Short == o.Window }) {
		ws = slices.DeleteFunc(ws, func(w time.Duration) bool { return w == o.Window })
	}
	return judge(ctx, r, environment, service, o, pairs, ws)
}

func judge(ctx context.Context, r Reader, environment, service string, o Objective, pairs []Pair, windows []time.Duration) (Report, error) {
	counts, err := Read(ctx, r, environment, service, windows)
	if err != nil {
		return Report{Objective: o.Objective, Window: o.Window, Status: StatusNoData}, err
	}
	return Evaluate(o, pairs, counts), nil
}

// PagePairs are the pairs that page: a fast burn.
func PagePairs() []Pair {
	var out []Pair
	for _, p := range Pairs {
		if p.Severity == Page {
			out = append(out, p)
		}
	}
	return out
}

// FormatWindow writes a window as PromQL does: 5m, 1h, 1d, 30d.
func FormatWindow(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}
