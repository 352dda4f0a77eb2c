package explain

import (
	"fmt"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/spec"
)

// verdict tells a transition the analysis caused, by what decided it.
func (c scene) verdict() Decision {
	v := *c.t.Verdict
	var story []string
	next := c.next()
	switch {
	case strings.HasPrefix(v.Trigger, "shadow:") || v.Decision == analysis.Pass && hasCheck(v, "shadow:errors"):
		story = c.paired(v)
	case v.Decision == analysis.Fail && strings.HasPrefix(v.Trigger, "sequential:latency"):
		story = c.slower(v)
	case v.Decision == analysis.Fail && strings.HasPrefix(v.Trigger, "sequential:"):
		story = c.worse(v)
	case v.Decision == analysis.Fail && v.Trigger == "slo:availability":
		story = c.burn(v)
	case v.Decision == analysis.Fail:
		story = c.rule(v)
	case v.Decision == analysis.Pass:
		story = c.passed(v)
	case firing(v, "srm"):
		story = c.split(v)
		next = "check that every request to " + c.st.Service + " goes through belay's proxy; then " + c.decide()
	case strings.HasPrefix(v.Reason, analysis.ErrNoData.Error()):
		story = c.blind(v)
		next = "check that the metrics source in the service's analysis settings answers; then " + c.decide()
	default:
		story = c.undecided(v)
		next = "send it more traffic, or lower min_requests in the service's analysis settings; then " + c.decide()
	}
	return Decision{Story: story, Next: next}
}

func find(v analysis.Verdict, check string) (analysis.Evidence, bool) {
	for _, e := range v.Evidence {
		if e.Check == check {
			return e, true
		}
	}
	return analysis.Evidence{}, false
}

func hasCheck(v analysis.Verdict, check string) bool {
	_, ok := find(v, check)
	return ok
}

// paired: a shadow or replay step, judged on pairs of answers to the same
// requests; the story tells the discordant pairs.
func (c scene) paired(v analysis.Verdict) []string {
	e, _ := find(v, "shadow:errors")
	what := "mirrored requests"
	k := c.t.Step
	if v.Decision == analysis.Pass && c.t.To == rollout.Canary {
		k-- // the transition's step is the one it moved on to
	}
	if k >= 0 && k < len(c.st.Steps) && c.st.Steps[k].Replay != "" {
		what = "requests replayed from " + c.st.Steps[k].Replay
	}
	counts := fmt.Sprintf("both versions answered the same %d %s: the new version failed %s where the stable version succeeded, the stable version %s where the new one succeeded",
		e.CanaryN, what, plural(e.NewWorse, "request"), plural(e.StableWorse, "request"))
	if u, ok := find(v, "shadow:unserved"); ok && u.Canary > 0 {
		counts += fmt.Sprintf(" (%d of them copies that found no healthy instance of the new version: it was down or restarting, and they count as its failures)", int64(u.Canary))
	}
	switch {
	case v.Decision == analysis.Pass:
		return []string{counts, "that is no worse, on enough requests to judge, so " + c.then()}
	case v.Trigger == "shadow:latency":
		var s analysis.Evidence
		for _, x := range v.Evidence {
			if strings.HasPrefix(x.Check, "shadow:latency>") && x.Statistic >= s.Statistic {
				s = x
			}
		}
		limit := strings.TrimPrefix(s.Check, "shadow:latency>")
		return []string{fmt.Sprintf("both versions answered the same %d %s: %s the new version took longer than %s where the stable version did not, %s the reverse",
			s.CanaryN, what, plural(s.NewWorse, "time"), limit, plural(s.StableWorse, "time")), "that is slower" + sure(v) + ", so " + c.then()}
	}
	return []string{counts, "that is worse" + sure(v) + ", so " + c.then()}
}

func firing(v analysis.Verdict, check string) bool {
	e, ok := find(v, check)
	return ok && e.State == analysis.StateFiring
}

// sure is "with 99 % confidence" from the comparison's bar, when the
// evidence has one.
func sure(v analysis.Verdict) string {
	for _, check := range []string{"sequential:combined", "sequential:errors", "shadow:combined"} {
		if e, ok := find(v, check); ok {
			if p := confidence(e.Threshold); p != "" {
				return " with " + p + " confidence"
			}
		}
	}
	return ""
}

// worse: the new version failed more requests than the stable one.
func (c scene) worse(v analysis.Verdict) []string {
	e, ok := find(v, "sequential:errors")
	if !ok {
		return []string{"the new version did worse than the stable version", c.then()}
	}
	return []string{
		fmt.Sprintf("the new version failed %s of its %s (%d), the stable version %s of its %s (%d)",
			pct(e.Canary), requests(e.CanaryN), of(e.Canary, e.CanaryN), pct(e.Baseline), requests(e.StableN), of(e.Baseline, e.StableN)),
		"that is worse" + sure(v) + ", so " + c.then(),
	}
}

// slower: more of the new version's requests were slow than the stable one's.
func (c scene) slower(v analysis.Verdict) []string {
	var e analysis.Evidence
	for _, x := range v.Evidence {
		if strings.HasPrefix(x.Check, "sequential:latency>") && x.Statistic >= e.Statistic {
			e = x
		}
	}
	limit, err := time.ParseDuration(strings.TrimPrefix(e.Check, "sequential:latency>"))
	if err != nil {
		return []string{"the new version was slower than the stable version", c.then()}
	}
	return []string{
		fmt.Sprintf("%s of the new version's %s took longer than %s, against %s of the stable version's %s",
			pct(e.Canary), requests(e.CanaryN), seconds(limit.Seconds()), pct(e.Baseline), requests(e.StableN)),
		"that is slower" + sure(v) + ", so " + c.then(),
	}
}

// burn: the service's SLO burned its error budget fast (a page pair fired).
func (c scene) burn(v analysis.Verdict) []string {
	why := strings.TrimPrefix(v.Reason, c.st.Service+" burns its error budget fast in "+c.st.Environment+": ")
	return []string{fmt.Sprintf("The error budget of %s's SLO in %s burned fast: %s", c.st.Service, c.st.Environment, why), "so " + c.then()}
}

// rule: one of the user's rollback triggers fired.
func (c scene) rule(v analysis.Verdict) []string {
	e, ok := find(v, v.Trigger)
	t, err := parseTrigger(v.Trigger, e)
	if err != nil || !ok {
		return []string{fmt.Sprintf("your rollback rule `%s` fired", v.Trigger), c.then()}
	}
	held := ""
	if t.For > 0 {
		held = " for at least " + dur(t.For)
	}
	return []string{measured(t, e), fmt.Sprintf("that crossed the limit of %s in your rule `%s`%s, so %s", limit(t, e), t.Raw, held, c.then())}
}

// parseTrigger parses an evidence's trigger line, knowing the kind of a
// named metric (belay.yaml's metrics:) from the evidence.
func parseTrigger(line string, e analysis.Evidence) (spec.Trigger, error) {
	if e.Kind == "" {
		return spec.ParseTrigger(line)
	}
	return spec.ParseTriggerWith(line, map[string]spec.Kind{spec.TriggerMetric(line): e.Kind.Kind()})
}

// measured says what a trigger saw, in its metric's words.
func measured(t spec.Trigger, e analysis.Evidence) string {
	k, _ := spec.KindOf(t.Metric)
	if e.Kind != "" {
		k = e.Kind.Kind()
		s := fmt.Sprintf("the new version's %s, read from Prometheus, was %s", t.Metric, show(k, e.Canary))
		if e.Baseline != 0 || t.Relative {
			s += fmt.Sprintf(", against %s for the stable version", show(k, e.Baseline))
		}
		return s
	}
	switch {
	case t.Metric == spec.ErrorRate:
		return fmt.Sprintf("the new version failed %s of its last %s (%d)", pct(e.Canary), requests(e.CanaryN), of(e.Canary, e.CanaryN))
	case k == spec.KindDuration:
		return fmt.Sprintf("%s of the new version's last %s took %s or more", slowest(t.Metric), requests(e.CanaryN), seconds(e.Canary))
	case t.Metric == spec.HealthCheckFailures:
		return fmt.Sprintf("the new version failed %s since the step began", plural(int64(e.Canary), "health check"))
	case t.Metric == spec.Restarts:
		return fmt.Sprintf("the new version's instances restarted %s since the step began", plural(int64(e.Canary), "time"))
	}
	return fmt.Sprintf("the new version's %s was %g", t.Metric, e.Canary)
}

// slowest names a latency quantile plainly: p95 is "the slowest 5 %".
func slowest(m spec.Metric) string {
	switch m {
	case spec.P50Latency:
		return "half"
	case spec.P90Latency:
		return "the slowest 10 %"
	case spec.P95Latency:
		return "the slowest 5 %"
	case spec.P99Latency:
		return "the slowest 1 %"
	}
	return string(m)
}

// limit is a trigger's threshold in its metric's units; a relative one
// says what it rests on.
func limit(t spec.Trigger, e analysis.Evidence) string {
	k, _ := spec.KindOf(t.Metric)
	if e.Kind != "" {
		k = e.Kind.Kind()
	}
	if t.Relative {
		return fmt.Sprintf("%s (the stable version's %s plus %g %%)", show(k, e.Threshold), show(k, e.Baseline), t.Margin*100)
	}
	return show(k, e.Threshold)
}

// show writes a value of a metric of kind k.
func show(k spec.Kind, f float64) string {
	switch k {
	case spec.KindRatio:
		return pct(f)
	case spec.KindDuration:
		return seconds(f)
	}
	return fmt.Sprint(f)
}

// passed: a step the new version passed, with or without a comparison.
func (c scene) passed(v analysis.Verdict) []string {
	e, compared := find(v, "sequential:errors")
	if !compared {
		why := "the stable version had no traffic left to compare it with"
		if c.st.Stable == nil {
			why = "this is the first release, with no other version to compare it with"
		}
		return []string{c.quiet(v) + "; " + why + ", so belay judged by your rules alone", "so " + c.then()}
	}
	out := []string{fmt.Sprintf("the new version failed %s of its %s, the stable version %s of its %s; %s",
		pct(e.Canary), requests(e.CanaryN), pct(e.Baseline), requests(e.StableN), c.quiet(v))}
	if p, ok := find(v, "power"); ok {
		return append(out, fmt.Sprintf("that is enough traffic to judge (%d needed), so %s", int64(p.Threshold), c.then()))
	}
	return append(out, "so "+c.then())
}

// quiet lists the user's rules that did not fire.
func (c scene) quiet(v analysis.Verdict) string {
	var rules []string
	var seen int64      // requests the rules saw
	onRequests := false // a rule on the agent's request counters, not a metric read from Prometheus
	for _, e := range v.Evidence {
		if _, err := parseTrigger(e.Check, e); err == nil {
			rules = append(rules, "`"+e.Check+"`")
			seen += e.CanaryN
			onRequests = onRequests || e.Kind == ""
		}
	}
	switch {
	case len(rules) == 0:
		return "you set no rollback rule"
	case seen == 0 && onRequests:
		return "none of your rollback rules fired (" + strings.Join(rules, ", ") + "), though no request reached the new version, so the rules on requests had nothing to judge"
	}
	return "none of your rollback rules fired (" + strings.Join(rules, ", ") + ")"
}

// split: the new version's share of traffic was not what belay set.
func (c scene) split(v analysis.Verdict) []string {
	e, _ := find(v, "srm")
	total := e.CanaryN + e.StableN
	return []string{
		fmt.Sprintf("the new version received %s of %s (%d) while belay sent it %s", pct(e.Canary), requests(total), e.CanaryN, pct(e.Baseline)),
		"the traffic split is off, so comparing the two versions would mislead, and " + c.then(),
	}
}

// blind: the measurements could not be read.
func (c scene) blind(v analysis.Verdict) []string {
	why := strings.TrimSuffix(v.Reason, "; never a pass without data")
	why = strings.TrimPrefix(strings.TrimPrefix(why, analysis.ErrNoData.Error()), ": ")
	s := "belay could not read the new version's measurements"
	if why != "" {
		s += " (" + why + ")"
	}
	return []string{s, "it never passes a version it cannot see, so " + c.then()}
}

// undecided: the step ran out of time before the analysis could decide.
func (c scene) undecided(v analysis.Verdict) []string {
	after := ""
	if d, ok := c.stepLive(); ok {
		after = "after " + d + " at this step, "
	}
	if p, ok := find(v, "power"); ok && p.State == analysis.StatePending {
		return []string{
			fmt.Sprintf("%sthe new version had served only %s; belay needs %d to tell whether it is worse than the stable version",
				after, requests(p.CanaryN), int64(p.Threshold)),
			"too little traffic to decide, so " + c.then(),
		}
	}
	_, waiting, _ := strings.Cut(v.Reason, "still waiting for ")
	if waiting == "" {
		waiting = v.Reason
	}
	return []string{after + "belay still could not decide: it was waiting for " + waiting, "so " + c.then()}
}
