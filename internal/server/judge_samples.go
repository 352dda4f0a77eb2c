package server

import (
	"context"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/store"
)

// sampleEvery is the least time between two samples of a rollout step:
// a chart point a second is plenty, and store.MaxSamples bounds the rest.
const sampleEvery = time.Second

// sampled is what a step's last recorded samples counted, per version
// (canary, stable), so the next sample is the increase since.
type sampled struct {
	at             time.Time
	canary, stable analysis.Sample
}

// sample records, at most every sampleEvery, what each version of the
// rollout served since the step's previous sample: the counters the
// analyzer just read. sp.mu is held.
func (j *Judge) sample(ctx context.Context, id string, sp *step, now time.Time) {
	if j.d.Samples == nil || now.Sub(sp.sampled.at) < sampleEvery {
		return
	}
	n, err := rowID(id)
	if err != nil {
		return
	}
	st := &sp.a.State
	var ss []store.Sample
	for _, v := range []struct {
		version   string
		cur, prev analysis.Sample
	}{{sp.a.Config.Canary, st.Canary.Total, sp.sampled.canary}, {sp.a.Config.Stable, st.Stable.Total, sp.sampled.stable}} {
		if v.version == "" || v.cur.Requests == 0 {
			continue // no stable, or a version that has served nothing in this step
		}
		s := store.Sample{RolloutID: n, At: now.UTC(), Version: v.version,
			Requests: max(v.cur.Requests-v.prev.Requests, 0), Errors: max(v.cur.Errors-v.prev.Errors, 0)}
		if len(v.cur.Latency) == len(st.Bounds)+1 {
			d := make([]int64, len(v.cur.Latency))
			for i := range d {
				d[i] = v.cur.Latency[i]
				if i < len(v.prev.Latency) {
					d[i] = max(d[i]-v.prev.Latency[i], 0)
				}
			}
			if p, ok := analysis.Quantile(0.95, st.Bounds, d); ok {
				s.P95 = &p
			}
		}
		ss = append(ss, s)
	}
	sp.sampled = sampled{at: now, canary: st.Canary.Total, stable: st.Stable.Total}
	if len(ss) == 0 {
		return
	}
	if err := j.d.Samples.AddSamples(ctx, ss); err != nil {
		j.d.Logger.Warn("rollout samples not recorded; the dashboard's charts will have a gap", "rollout", id, "err", err)
	}
}
