// Package loadgen drives HTTP load at a service for tests, benchmarks and
// the demo: GETs at a steady or Poisson rate, or back to back from a number
// of senders, each answer tallied by the version that served it.
package loadgen

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Options say how to send.
type Options struct {
	// Rate is requests per second, each sent without waiting for the
	// others (an open loop, as independent clients arrive). 0 sends back to
	// back from Workers senders instead (a closed loop).
	Rate float64
	// Poisson, with Rate, spaces requests by exponential gaps instead of
	// evenly.
	Poisson bool
	// Workers is the number of senders without Rate (default 1).
	Workers int
	// Header names the answer header that carries the serving version.
	Header string
	// Client sends the requests; the default has a 10 s timeout and keeps
	// connections alive.
	Client *http.Client
}

// Load is load being sent; Stop ends it.
type Load struct {
	url    string
	o      Options
	start  time.Time
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	tally  Tally
}

// Tally is what the load has seen so far. A request cut off by Stop counts
// nowhere.
type Tally struct {
	Sent       int64            // answered or unanswered
	OK         int64            // answered with a status below 500
	ByVersion  map[string]Count // answers by serving version ("" when not named)
	Unanswered int64            // connection errors and timeouts
	Failures   []Failure        // every 5xx answer and unanswered request, in order
	// Latencies are the times to the end of every answer (5xx included), in
	// the order answered; unanswered requests have none.
	Latencies []time.Duration
}

// Count is the answers of one version.
type Count struct {
	Total  int64
	Failed int64 // 5xx
}

// Failure is a 5xx answer or a request that got no answer.
type Failure struct {
	At      time.Duration // since Start
	Version string        // serving version of an answer
	Status  int           // 0: no answer
	Err     string        // why there was no answer
}

// String reads "VERSION STATUS (at 1.23s)" for an answer and
// "- ERROR (at 1.23s)" for none.
func (f Failure) String() string {
	what := fmt.Sprintf("%s %d", f.Version, f.Status)
	if f.Status == 0 {
		what = "- " + f.Err
	}
	return fmt.Sprintf("%s (at %.2fs)", what, f.At.Seconds())
}

// Start sends GETs to url until Stop.
func Start(url string, o Options) *Load {
	if o.Client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = max(o.Workers, 256)
		o.Client = &http.Client{Timeout: 10 * time.Second, Transport: tr}
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Load{url: url, o: o, start: time.Now(), cancel: cancel, tally: Tally{ByVersion: map[string]Count{}}}
	if o.Rate > 0 {
		l.wg.Go(func() { l.open(ctx) })
		return l
	}
	for range max(o.Workers, 1) {
		l.wg.Go(func() {
			for ctx.Err() == nil {
				l.one(ctx)
			}
		})
	}
	return l
}

// open sends at o.Rate, each request on its own, keeping to the schedule
// unless it falls more than a second behind.
func (l *Load) open(ctx context.Context) {
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	gap := func() time.Duration {
		if l.o.Poisson {
			return time.Duration(r.ExpFloat64() / l.o.Rate * float64(time.Second))
		}
		return time.Duration(float64(time.Second) / l.o.Rate)
	}
	next := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		l.wg.Go(func() { l.one(ctx) })
		next = next.Add(gap())
		if behind := time.Now().Add(-time.Second); next.Before(behind) {
			next = behind
		}
		t.Reset(time.Until(next))
	}
}

func (l *Load) one(ctx context.Context) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, l.url, nil)
	sent := time.Now()
	resp, err := l.o.Client.Do(req)
	if err == nil { // an answer counts by its status, whatever becomes of its body
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	took := time.Since(sent)
	if err != nil && ctx.Err() != nil {
		return // cut off by Stop
	}
	at := time.Since(l.start)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tally.Sent++
	if err != nil {
		l.tally.Unanswered++
		l.tally.Failures = append(l.tally.Failures, Failure{At: at, Err: err.Error()})
		return
	}
	l.tally.Latencies = append(l.tally.Latencies, took)
	v := resp.Header.Get(l.o.Header)
	c := l.tally.ByVersion[v]
	c.Total++
	if resp.StatusCode >= 500 {
		c.Failed++
		l.tally.Failures = append(l.tally.Failures, Failure{At: at, Version: v, Status: resp.StatusCode})
	} else {
		l.tally.OK++
	}
	l.tally.ByVersion[v] = c
}

// Tally is a copy of what the load has seen so far.
func (l *Load) Tally() Tally {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.tally
	t.ByVersion = make(map[string]Count, len(l.tally.ByVersion))
	for v, c := range l.tally.ByVersion {
		t.ByVersion[v] = c
	}
	t.Failures = slices.Clone(l.tally.Failures)
	t.Latencies = slices.Clone(l.tally.Latencies)
	return t
}

// Quantile is the q-quantile (0 < q ≤ 1) of the answers' latencies by
// nearest rank: the smallest latency at least a share q of answers did not
// exceed; 0 without answers.
func (t Tally) Quantile(q float64) time.Duration {
	if len(t.Latencies) == 0 {
		return 0
	}
	s := slices.Clone(t.Latencies)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// Stop ends the load, waits for the requests in flight, and returns the
// final tally.
func (l *Load) Stop() Tally {
	l.cancel()
	l.wg.Wait()
	l.o.Client.CloseIdleConnections()
	return l.Tally()
}

// Except splits the failures into those not answered by one of the
// versions allowed to fail (a bad release's own errors) and the number
// that were.
func (t Tally) Except(allowed ...string) (bad []Failure, allowedN int) {
	for _, f := range t.Failures {
		if f.Status != 0 && slices.Contains(allowed, f.Version) {
			allowedN++
		} else {
			bad = append(bad, f)
		}
	}
	return bad, allowedN
}
