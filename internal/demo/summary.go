package demo

import (
	"context"
	"fmt"
	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/english"
	"strconv"
	"time"

	"github.com/belay-dev/belay/internal/rollout"
)

// summarise prints what happened, in numbers, and where to look.
func (r *run) summarise(ctx context.Context, s Summary) (Summary, error) {
	var all []api.RolloutView
	if err := r.get(ctx, "/rollouts?service=hello&environment=production", &all); err != nil {
		return s, err
	}
	var bad api.RolloutView
	for _, v := range all {
		if v.Version == s.Versions[2] {
			bad = v
		}
	}
	if err := r.get(ctx, "/rollouts/"+strconv.FormatInt(bad.ID, 10), &bad); err != nil {
		return s, err
	}
	s.BadRollout = bad.ID
	s.Detected = detection(bad)
	s.BadServed = r.served(s.Versions[2])
	load := r.load.Tally()
	for _, c := range load.ByVersion {
		s.Requests += c.Total
		s.Failed += c.Failed
	}
	s.Unrouted = load.Unanswered
	var status []api.ServiceStatus
	if err := r.get(ctx, "/status?service=hello", &status); err == nil {
		for _, e := range status[0].Environments {
			if e.Environment == "production" {
				s.Stable = e.Stable
			}
		}
	}
	r.say("Why v3 was rolled back: the evidence")
	out, err := r.belay(ctx, "explain", strconv.FormatInt(bad.ID, 10))
	if err != nil {
		return s, err
	}
	fmt.Fprintf(r.Out, "%s", indent(string(out)))
	s.Took = time.Since(r.start)
	r.print(s)
	return s, nil
}

// detection is the time from the bad canary taking traffic to its rollback.
func detection(v api.RolloutView) time.Duration {
	var from time.Time
	for _, t := range v.Transitions {
		if t.To == rollout.Canary && from.IsZero() && t.From == rollout.Canary {
			from = t.At
		}
		if t.To == rollout.RollingBack && !from.IsZero() {
			return t.At.Sub(from)
		}
	}
	return 0
}

func (r *run) print(s Summary) {
	w := r.Out
	fmt.Fprintf(w, "\nSummary (%s)\n", s.Took.Round(time.Second))
	fmt.Fprintf(w, "  v1 %s  deployed to staging and production\n", s.Versions[0])
	fmt.Fprintf(w, "  v2 %s  canaried and promoted: production's stable version\n", s.Versions[1])
	fmt.Fprintf(w, "  v3 %s  rolled back automatically %.1fs after its canary took traffic\n", s.Versions[2], s.Detected.Seconds())
	fmt.Fprintf(w, "     it answered %s, %d of them failed, before belay took it out of traffic\n", english.Count(s.BadServed.Total, "request"), s.BadServed.Failed)
	fmt.Fprintf(w, "  production now runs %s\n", s.Stable)
	fmt.Fprintf(w, "  load: %s, %d failed: %d answered by v3, %d by other versions; %s\n", english.Count(s.Requests, "request"), s.Failed, s.BadServed.Failed, s.Failed-s.BadServed.Failed, english.Count(s.Unrouted, "connection error"))
	if r.Keep {
		fmt.Fprintf(w, "\nStill running (stop with `belay down` in %s):\n", r.project)
		fmt.Fprintf(w, "  API         %s/api/v1/status\n  production  http://%s/\n", s.Server, s.Production)
		fmt.Fprintf(w, "  try         cd %s && belay status && belay explain %d && belay events\n", r.project, s.BadRollout)
	} else {
		fmt.Fprintf(w, "\nServer and agent stopped, %s removed; run `belay demo --keep` to look around afterwards.\n", r.Dir)
	}
}

func indent(s string) string {
	out := "   "
	for i, c := range s {
		out += string(c)
		if c == '\n' && i < len(s)-1 {
			out += "   "
		}
	}
	return out
}
