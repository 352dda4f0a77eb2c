package proxy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Replay: an environment with no users judges a new version on another
// environment's sample. Each replayed request goes to the stable version
// and to the shadow at once, both marked as copies, and the pair of answers
// is counted as a mirrored pair is.

// DefaultReplayRate is replayed requests per second when none is given.
const DefaultReplayRate = 50

// replayTick is the shortest interval between replay rounds: higher rates
// send several requests a round rather than waking more often.
const replayTick = 10 * time.Millisecond

// Replay replays, at rate requests a second, the requests sample returns,
// in order, asking it again each time they are used up, to the replay
// shadow of the table in force (see Shadow.Replay); a round with no table
// shadow to replay to sends nothing. It returns when ctx ends, once the
// requests in flight are given up.
func (p *Proxy) Replay(ctx context.Context, sample func() []SampledRequest, rate float64) {
	if rate <= 0 {
		rate = DefaultReplayRate
	}
	tick := max(time.Duration(float64(time.Second)/rate), replayTick)
	perTick := rate * tick.Seconds()
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	var batch []SampledRequest
	next, credit := 0, 0.0
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		t := p.table.Load()
		if t.replay == nil {
			continue
		}
		for credit = min(credit+perTick, 2*perTick); credit >= 1; credit-- {
			if next >= len(batch) {
				batch, next = sample(), 0
			}
			if len(batch) == 0 {
				t.replay.Stats.drop(DropNoSample)
				credit = 0
				break
			}
			p.replayOne(ctx, &wg, t, batch[next])
			next++
		}
	}
}

// replayOne sends r to an instance of t's stable version and one of its
// replay shadow's, unless a bound is reached, and records the pair. A pair
// cut short by ctx is neither sent nor paired in the counters.
func (p *Proxy) replayOne(ctx context.Context, wg *sync.WaitGroup, t *Table, r SampledRequest) {
	sh := t.replay
	st := sh.Stats
	if st.inFlight.Add(1) > int64(sh.MaxInFlight) {
		st.inFlight.Add(-1)
		st.drop(DropInFlight)
		return
	}
	stable := t.stable()
	if stable == nil || len(sh.Backends) == 0 {
		st.inFlight.Add(-1)
		st.drop(DropNoInstance)
		return
	}
	sb, nb := stable.next(), sh.Backends[int(st.rr.Add(1)%uint32(len(sh.Backends)))]
	build := func() (*http.Request, error) { return replayRequest(r, sh.DropHeaders) }
	wg.Go(func() {
		defer st.inFlight.Add(-1)
		var stableStatus int
		var stableLat time.Duration
		done := make(chan struct{})
		go func() {
			defer close(done)
			stableStatus, stableLat = sh.exchange(ctx, p, sb, build)
		}()
		status, lat := sh.exchange(ctx, p, nb, build)
		<-done
		if ctx.Err() != nil {
			return // stopped: neither side's answer says anything
		}
		st.sent.Add(1)
		st.pair(stableStatus, status, stableLat, lat)
	})
}

// stable is the route that replayed requests compare against: of those
// taking traffic and having a healthy instance, the one with most weight.
func (t *Table) stable() *Route {
	var best *Route
	for _, r := range t.routes {
		if r.Weight > 0 && len(r.Backends) > 0 && (best == nil || r.Weight > best.Weight) {
			best = r
		}
	}
	return best
}

// replayRequest is r to send again, marked as a copy, without drop.
func replayRequest(r SampledRequest, drop []string) (*http.Request, error) {
	u, err := url.ParseRequestURI(r.URI)
	if err != nil {
		return nil, err
	}
	h := r.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	for _, k := range drop {
		h.Del(k)
	}
	h[ShadowHeader] = []string{"1"}
	out := &http.Request{Method: r.Method, URL: u, Host: r.Host, Header: h, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Body: http.NoBody}
	if len(r.Body) > 0 {
		out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(r.Body)), int64(len(r.Body))
	}
	return out, nil
}
