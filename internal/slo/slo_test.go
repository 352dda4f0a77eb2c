package slo

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"
)

const day = 24 * time.Hour

// 99.9 % as belay.yaml's parser reads it (99.9 / 100), a hair above 0.999
var thirtyDays = Objective{Objective: 99.9 / 100, Window: 30 * day}

// TestFactorsAreTheWorkbooks: for a 30-day SLO the pairs burn 2 % of the
// budget in 1h, 5 % in 6h, 10 % in 1d and 10 % in 3d, i.e. 14.4, 6, 3, 1.
func TestFactorsAreTheWorkbooks(t *testing.T) {
	want := []float64{14.4, 6, 3, 1}
	for i, p := range Pairs {
		if got := p.Factor(30 * day); math.Abs(got-want[i]) > 1e-9 {
			t.Errorf("pair %d (%s/%s): factor %v, want %v", i, p.Long, p.Short, got, want[i])
		}
		// burning at the factor for the long window spends BudgetPercent
		if spent := p.Factor(30*day) * p.Long.Hours() / (30 * day).Hours() * 100; math.Abs(spent-p.BudgetPercent) > 1e-9 {
			t.Errorf("pair %d spends %v%% of the budget, want %v%%", i, spent, p.BudgetPercent)
		}
	}
	// a 28-day SLO scales them: 2 % of 672h in 1h is 13.44
	if got := Pairs[0].Factor(28 * day); math.Abs(got-13.44) > 1e-9 {
		t.Errorf("28d page factor %v, want 13.44", got)
	}
}

// ratios gives every window the same requests and the error ratio named
// for it (default: base).
func ratios(base float64, per map[time.Duration]float64) map[time.Duration]Window {
	out := map[time.Duration]Window{}
	for _, w := range thirtyDays.Windows(Pairs) {
		r, ok := per[w]
		if !ok {
			r = base
		}
		out[w] = Window{Counts: Counts{Requests: 100000, Errors: r * 100000}, Known: true}
	}
	return out
}

func TestEvaluateWorkbookCases(t *testing.T) {
	for _, c := range []struct {
		name   string
		counts map[time.Duration]Window
		want   Status
		firing []bool // per pair
	}{
		{"quiet: 0.05% everywhere", ratios(0.0005, nil), StatusOK, []bool{false, false, false, false}},
		{"exactly at budget does not fire (burn 1 is not > 1)", ratios(0.001, nil), StatusOK, []bool{false, false, false, false}},
		{"1.5% in 1h and 5m: burn 15 > 14.4 pages", ratios(0.0005, map[time.Duration]float64{time.Hour: 0.015, 5 * time.Minute: 0.015}), StatusPage, []bool{true, false, false, false}},
		{"1.4% in 1h and 5m: burn 14 < 14.4", ratios(0.0005, map[time.Duration]float64{time.Hour: 0.014, 5 * time.Minute: 0.014}), StatusOK, []bool{false, false, false, false}},
		{"long burns but short recovered: reset", ratios(0.0005, map[time.Duration]float64{time.Hour: 0.5, 5 * time.Minute: 0.001}), StatusOK, []bool{false, false, false, false}},
		{"short burns, long does not: a blip", ratios(0.0005, map[time.Duration]float64{time.Hour: 0.01, 5 * time.Minute: 0.9}), StatusOK, []bool{false, false, false, false}},
		{"0.7% over 6h and 30m: burn 7 > 6 pages", ratios(0.0005, map[time.Duration]float64{6 * time.Hour: 0.007, 30 * time.Minute: 0.007}), StatusPage, []bool{false, true, false, false}},
		{"0.35% over 1d and 2h: burn 3.5 > 3 tickets", ratios(0.0005, map[time.Duration]float64{day: 0.0035, 2 * time.Hour: 0.0035}), StatusTicket, []bool{false, false, true, false}},
		{"0.11% over 3d and 6h: burn 1.1 > 1 tickets", ratios(0.0005, map[time.Duration]float64{3 * day: 0.0011, 6 * time.Hour: 0.0011}), StatusTicket, []bool{false, false, false, true}},
		{"a total outage fires all four; page wins", ratios(1, nil), StatusPage, []bool{true, true, true, true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := Evaluate(thirtyDays, Pairs, c.counts)
			if r.Status != c.want {
				t.Errorf("status %s, want %s", r.Status, c.want)
			}
			for i, p := range r.Pairs {
				if p.Firing != c.firing[i] {
					t.Errorf("pair %s/%s firing %v, want %v (burns %v/%v, factor %v)", p.Long, p.Short, p.Firing, c.firing[i], *p.LongBurn, *p.ShortBurn, p.Factor)
				}
			}
		})
	}
}

func TestBudget(t *testing.T) {
	// 43,200 requests in 30 days with 21.6 bad: 0.05 % error ratio, half the
	// 0.1 % budget spent.
	counts := ratios(0, nil)
	counts[30*day] = Window{Counts: Counts{Requests: 43200, Errors: 21.6}, Known: true}
	r := Evaluate(thirtyDays, Pairs, counts)
	if math.Abs(*r.BudgetConsumed-0.5) > 1e-9 || math.Abs(*r.BudgetLeft-0.5) > 1e-9 {
		t.Errorf("consumed %v left %v, want 0.5 and 0.5", *r.BudgetConsumed, *r.BudgetLeft)
	}
	// 0.3 % errors: three budgets spent, 200 % over
	counts[30*day] = Window{Counts: Counts{Requests: 1000, Errors: 3}, Known: true}
	r = Evaluate(thirtyDays, Pairs, counts)
	if math.Abs(*r.BudgetLeft+2) > 1e-9 {
		t.Errorf("left %v, want -2", *r.BudgetLeft)
	}
}

func TestNoDataIsNotOK(t *testing.T) {
	r := Evaluate(thirtyDays, Pairs, map[time.Duration]Window{})
	if r.Status != StatusNoData || r.BudgetLeft != nil {
		t.Errorf("empty: status %s, budget left %v; want no_data and none", r.Status, r.BudgetLeft)
	}
	// zero requests in every window: nothing burnt, but no ratio either
	counts := ratios(0, nil)
	for w := range counts {
		counts[w] = Window{Known: true}
	}
	r = Evaluate(thirtyDays, Pairs, counts)
	if r.Status != StatusOK || r.Pairs[0].LongBurn != nil || r.BudgetLeft != nil {
		t.Errorf("no traffic: status %s; want ok without burn rates", r.Status)
	}
	// a page pair fires even when a ticket pair has no data
	counts = ratios(0.5, nil)
	delete(counts, 3*day)
	if r = Evaluate(thirtyDays, Pairs, counts); r.Status != StatusPage || !r.Pairs[3].NoData {
		t.Errorf("status %s, 3d no_data %v; want page and true", r.Status, r.Pairs[3].NoData)
	}
}

func TestWindows(t *testing.T) {
	got := thirtyDays.Windows(Pairs)
	want := []time.Duration{30 * day, 3 * day, day, 6 * time.Hour, 2 * time.Hour, time.Hour, 30 * time.Minute, 5 * time.Minute}
	if len(got) != len(want) {
		t.Fatalf("windows %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("windows %v, want %v", got, want)
		}
	}
}

type mapReader map[time.Duration]Counts

func (m mapReader) Counts(_ context.Context, _, _ string, w time.Duration) (Counts, bool, error) {
	c, ok := m[w]
	return c, ok, nil
}

type downReader struct{}

func (downReader) Counts(context.Context, string, string, time.Duration) (Counts, bool, error) {
	return Counts{}, false, ErrNoData
}

func TestJudge(t *testing.T) {
	m := mapReader{}
	for _, w := range thirtyDays.Windows(PagePairs()) {
		m[w] = Counts{Requests: 1000, Errors: 20}
	}
	r, err := Judge(context.Background(), m, "production", "api", thirtyDays, PagePairs())
	if err != nil || r.Status != StatusPage || len(r.Pairs) != 2 {
		t.Fatalf("status %s (%d pairs), err %v; want page", r.Status, len(r.Pairs), err)
	}
	if _, err := Judge(context.Background(), downReader{}, "production", "api", thirtyDays, Pairs); !errors.Is(err, ErrNoData) {
		t.Errorf("err %v, want ErrNoData", err)
	}
}

func TestFormatWindow(t *testing.T) {
	for d, want := range map[time.Duration]string{5 * time.Minute: "5m", time.Hour: "1h", 30 * day: "30d", 72 * time.Hour: "3d", 90 * time.Second: "90s"} {
		if got := FormatWindow(d); got != want {
			t.Errorf("%v: %s, want %s", d, got, want)
		}
	}
}

// countingReader records the windows asked for.
type countingReader struct {
	mapReader
	asked []time.Duration
}

func (c *countingReader) Counts(ctx context.Context, env, svc string, w time.Duration) (Counts, bool, error) {
	c.asked = append(c.asked, w)
	return c.mapReader.Counts(ctx, env, svc, w)
}

func TestJudgeBurnSkipsTheSLOWindow(t *testing.T) {
	r := &countingReader{mapReader: mapReader{}}
	for _, w := range thirtyDays.Windows(Pairs) {
		r.mapReader[w] = Counts{Requests: 1000, Errors: 20}
	}
	rep, err := JudgeBurn(context.Background(), r, "production", "api", thirtyDays, PagePairs())
	if err != nil || rep.Status != StatusPage || rep.BudgetLeft != nil {
		t.Fatalf("status %s, budget %v, err %v; want page without budget", rep.Status, rep.BudgetLeft, err)
	}
	if len(r.asked) != 4 || slices.Contains(r.asked, 30*day) {
		t.Errorf("asked %v; want the four page windows only", r.asked)
	}
}
