package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"
)

// recorder is the load's transport, wrapped: it keeps, per request, when
// it was sent, how long its answer took and how many connections it used.
// More than one means net/http sent it again on a new connection after its
// keep-alive connection died unanswered, as it does for a GET: a request
// that reached a dying agent and that the client hid. loadgen's tally says
// what failed; the recorder says what was sent when, and what was sent
// again. With noRetry such a request fails instead, as it would for a
// client that does not send requests again.
type recorder struct {
	base    http.RoundTripper
	start   time.Time
	noRetry bool
	mu      sync.Mutex
	reqs    []request
}

// request is one request as the client saw it, times since the recorder's
// start.
type request struct {
	at, took time.Duration // sent; until the answer's head or the error
	conns    int           // connections it was sent on
	// firstConn and firstWrote are when the first attempt got its
	// connection and had written the request (0: never).
	firstConn, firstWrote time.Duration
	firstReused           bool          // the first connection was a keep-alive one …
	firstIdle             time.Duration // … idle this long
}

// errSentAgain is the failure of a request net/http would have sent again.
var errSentAgain = errors.New("agentcrash -retry=false: connection lost before the answer; net/http would have sent the request again")

func newRecorder(noRetry bool) *recorder {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256 // as loadgen's own client
	return &recorder{base: tr, start: time.Now(), noRetry: noRetry}
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var mu sync.Mutex
	q := request{at: time.Since(r.start)}
	ctx, cancel := req.Context(), context.CancelFunc(func() {})
	if r.noRetry {
		ctx, cancel = context.WithCancel(ctx)
	}
	trace := &httptrace.ClientTrace{
		GotConn: func(c httptrace.GotConnInfo) {
			mu.Lock()
			defer mu.Unlock()
			if q.conns++; q.conns == 1 {
				q.firstConn, q.firstReused, q.firstIdle = time.Since(r.start), c.Reused, c.IdleTime
			} else {
				cancel() // with noRetry: the attempt on a new connection fails
			}
		},
		WroteRequest: func(httptrace.WroteRequestInfo) {
			mu.Lock()
			defer mu.Unlock()
			if q.conns == 1 && q.firstWrote == 0 {
				q.firstWrote = time.Since(r.start)
			}
		},
	}
	resp, err := r.base.RoundTrip(req.WithContext(httptrace.WithClientTrace(ctx, trace)))
	mu.Lock()
	q.took = time.Since(r.start) - q.at
	if r.noRetry && q.conns > 1 {
		if resp != nil {
			resp.Body.Close()
		}
		resp, err = nil, errSentAgain
	}
	done := q
	mu.Unlock()
	r.mu.Lock()
	r.reqs = append(r.reqs, done)
	r.mu.Unlock()
	if resp == nil {
		cancel()
		return nil, err
	}
	resp.Body = cancelOnClose{resp.Body, cancel} // the caller reads the body under ctx
	return resp, nil
}

// cancelOnClose releases a request's context once its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// between returns the requests sent in [from, to) since start.
func (r *recorder) between(from, to time.Duration) []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []request
	for _, q := range r.reqs {
		if q.at >= from && q.at < to {
			out = append(out, q)
		}
	}
	return out
}

// spanning counts the requests sent before at whose answer came after it:
// in flight at that moment.
func (r *recorder) spanning(at time.Duration) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, q := range r.reqs {
		if q.at < at && q.at+q.took > at {
			n++
		}
	}
	return n
}

// again sorts the requests among qs that were sent on more than one
// connection: written to the first before at (in flight then), or not.
func again(qs []request, at time.Duration) (inFlight, later int) {
	for _, q := range qs {
		switch {
		case q.conns <= 1:
		case q.firstWrote != 0 && q.firstWrote < at:
			inFlight++
		default:
			later++
		}
	}
	return inFlight, later
}

// sentAgain tells how a request sent again went, times from at.
func (q request) sentAgain(at time.Duration) string {
	s := fmt.Sprintf("sent %+.3fs, first connection %+.3fs", (q.at - at).Seconds(), (q.firstConn - at).Seconds())
	if q.firstReused {
		s += fmt.Sprintf(" (keep-alive, idle %s)", q.firstIdle.Round(time.Microsecond))
	} else {
		s += " (new)"
	}
	if q.firstWrote != 0 {
		s += fmt.Sprintf(", written %+.3fs", (q.firstWrote - at).Seconds())
	}
	return s + fmt.Sprintf(", answered after %s on connection %d", q.took.Round(time.Microsecond), q.conns)
}

// longest is the longest request among qs.
func longest(qs []request) time.Duration {
	var d time.Duration
	for _, q := range qs {
		d = max(d, q.took)
	}
	return d
}

var _ http.RoundTripper = (*recorder)(nil)
