package server

import (
	"context"
	"fmt"
	"math"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/slo"
	"github.com/belay-dev/belay/internal/spec"
)

// SLOCheck names the evidence of a service's SLO in a verdict.
const SLOCheck = "slo:availability"

// sloCheck adds the service's SLO to a verdict of a step or watch: when its
// error budget burns fast in the rollout's environment (a page pair of the
// SRE workbook fires: 1h and 5m above 14.4, or 6h and 30m above 6, for a
// 30-day SLO) the verdict fails, since a rollout in progress is the likely
// cause and rolling it back the remedy. The service's whole traffic is
// judged, every version together, as its users see it. No data adds
// evidence and changes nothing: the rollback triggers own the no-data policy.
func (j *Judge) sloCheck(ctx context.Context, st rollout.State, svc *spec.Service, v analysis.Verdict) analysis.Verdict {
	if svc.SLO == nil || j.d.SLO == nil {
		return v
	}
	o := objectiveOf(svc.SLO)
	ev := analysis.Evidence{Check: SLOCheck, State: "no_data"}
	rd, err := j.d.SLO(svc.Analysis)
	var rep slo.Report
	if err == nil {
		rep, err = slo.JudgeBurn(ctx, rd, st.Environment, st.Service, o, slo.PagePairs())
	}
	if err != nil {
		j.d.Logger.Warn("slo not judged", "service", st.Service, "environment", st.Environment, "err", err)
		v.Evidence = append(v.Evidence, ev)
		return v
	}
	p := worst(rep.Pairs)
	ev.Threshold = p.Factor
	if p.LongBurn != nil && p.ShortBurn != nil {
		ev.Canary = math.Min(*p.LongBurn, *p.ShortBurn) // the pair fires when both exceed the factor
	}
	switch {
	case rep.Status == slo.StatusPage:
		ev.State = "firing"
	case rep.Status != slo.StatusNoData:
		ev.State = "ok"
	}
	v.Evidence = append(v.Evidence, ev)
	if ev.State == "firing" && v.Decision != analysis.Fail {
		v.Decision, v.Trigger, v.Policy = analysis.Fail, SLOCheck, ""
		v.Reason = fmt.Sprintf("%s burns its error budget fast in %s: burn rate %.1f over %s and %.1f over %s, above %.3g for its %s objective over %s",
			st.Service, st.Environment, *p.LongBurn, slo.FormatWindow(p.Long), *p.ShortBurn, slo.FormatWindow(p.Short), p.Factor,
			svc.SLO.Objective, svc.SLO.Effective().Window)
	}
	return v
}

// worst is the firing pair, else the one closest to firing.
func worst(ps []slo.PairStatus) slo.PairStatus {
	best, score := ps[0], -1.0
	for _, p := range ps {
		s := 0.0
		if p.LongBurn != nil && p.ShortBurn != nil {
			s = math.Min(*p.LongBurn, *p.ShortBurn) / p.Factor
		}
		if p.Firing {
			s = math.Inf(1)
		}
		if s > score {
			best, score = p, s
		}
	}
	return best
}
