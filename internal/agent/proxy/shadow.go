package proxy

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Shadow traffic: a share of requests is copied to another version after the
// user has been answered by the route the table picked, so that the other
// version can be judged on real requests before any user depends on it. A
// copy never touches the user's answer: it is sent only once that answer is
// written, asynchronously, bounded, and its own answer is measured and
// thrown away.

// ShadowHeader marks a copy, so that an application can skip side effects.
// The proxy removes it from users' requests: only copies carry it.
const ShadowHeader = "X-Belay-Shadow"

// Defaults of a Shadow's bounds.
const (
	DefaultShadowMaxInFlight = 64
	DefaultShadowMaxBody     = 64 << 10
	DefaultShadowTimeout     = 10 * time.Second
)

// Shadow names the version that receives copies and bounds them.
type Shadow struct {
	Version  string
	Backends []*Backend // healthy instances of Version
	Stats    *ShadowStats
	Share    float64  // of requests to copy, 0 < Share ≤ 1
	Methods  []string // copied methods; none: GET, HEAD and OPTIONS
	MaxBody  int64    // larger request bodies are not copied; 0: DefaultShadowMaxBody
	// MaxInFlight bounds the copies waiting for an answer at once, so that
	// a hanging version costs a bounded number of goroutines and sockets.
	MaxInFlight int           // 0: DefaultShadowMaxInFlight
	MaxRate     float64       // copies per second; 0: unbounded
	Timeout     time.Duration // for a copy's whole exchange; 0: DefaultShadowTimeout
	// Replay: the copies are not of this table's requests but replayed
	// from a sample (Proxy.Replay); the table mirrors nothing.
	Replay      bool
	DropHeaders []string // removed from replayed requests
}

// WithShadow is t with s copying its requests; t itself is unchanged. A nil s
// or one with no Stats copies nothing; one with Replay copies none of t's
// requests and is the target of Proxy.Replay instead.
func (t *Table) WithShadow(s *Shadow) *Table {
	c := *t
	c.shadow, c.replay = nil, nil
	if s != nil && s.Stats != nil && s.Share > 0 {
		n := *s
		n.Share = min(n.Share, 1)
		if len(n.Methods) == 0 {
			n.Methods = []string{http.MethodGet, http.MethodHead, http.MethodOptions}
		}
		n.MaxBody = cmpOr(n.MaxBody, DefaultShadowMaxBody)
		n.MaxInFlight = cmpOr(n.MaxInFlight, DefaultShadowMaxInFlight)
		n.Timeout = cmpOr(n.Timeout, DefaultShadowTimeout)
		if n.Replay {
			c.replay = &n // off the serving path: requests see no shadow
		} else {
			c.shadow = &n
		}
	}
	return &c
}

func cmpOr[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Shadow is the table's shadow configuration (defaults filled in), or nil.
func (t *Table) Shadow() *Shadow { return t.shadow }

// DropReason says why a sampled request was not copied.
type DropReason int

const (
	DropMethod     DropReason = iota // not a listed method, or an upgrade or Expect
	DropBody                         // a body over MaxBody, of unknown length, or unreadable
	DropInFlight                     // MaxInFlight copies already waiting
	DropRate                         // over MaxRate
	DropNoInstance                   // the shadow version has no healthy instance
	DropNoSample                     // replaying, but the sample is empty (counted once a tick)
	numDropReasons
)

// DropReasonNames label the reasons in metrics.
var DropReasonNames = [numDropReasons]string{"method", "body", "in_flight", "rate", "no_instance", "no_sample"}

// ShadowStats are one shadow version's copy measurements, and the live
// counts its bounds are checked against; keep one per version across
// tables, as Stats. The hot path only does atomic adds.
type ShadowStats struct {
	sent    atomic.Int64
	dropped [numDropReasons]atomic.Int64
	pairs   [4]atomic.Int64 // index: 2·stable failed + shadow failed
	stable  [numBounds + 1]atomic.Int64
	shadow  [numBounds + 1]atomic.Int64
	// slower[side] is a difference array of the pairs where that side (0:
	// stable, 1: shadow) was slower: +1 at the faster answer's bucket, -1
	// at the slower one's, so that its prefix sum at bound i counts the
	// pairs where only that side took longer than LatencyBounds[i].
	// Both ends of a pair are written under mu, so that a snapshot never
	// sees half a pair (a count that a later snapshot takes back).
	mu       sync.Mutex
	slower   [2][numBounds + 1]int64
	inFlight atomic.Int64
	seq      atomic.Uint64 // sampling
	rr       atomic.Uint32 // round-robin over the shadow's instances
	rate     tokenBucket
}

// ShadowSnapshot is a copy of ShadowStats at one moment. A pair is one
// copied request's two outcomes; failed means 5xx or no answer.
type ShadowSnapshot struct {
	Sent         int64
	Dropped      [numDropReasons]int64 // by DropReason
	BothOK       int64
	ShadowFailed int64 // stable ok, shadow failed
	StableFailed int64 // stable failed, shadow ok
	BothFailed   int64
	InFlight     int64
	// Latencies of the paired requests, per side, in LatencyBounds buckets.
	StableBuckets, ShadowBuckets []int64
	// ShadowSlower[i] counts the pairs where only the copy took longer than
	// LatencyBounds[i]; StableSlower[i] where only the user's answer did.
	// These are the discordant pairs of a "slow" event at that threshold.
	ShadowSlower, StableSlower []int64
}

// Pairs is the number of copies answered or given up on.
func (s ShadowSnapshot) Pairs() int64 {
	return s.BothOK + s.ShadowFailed + s.StableFailed + s.BothFailed
}

// Snapshot reads the counters.
func (s *ShadowStats) Snapshot() ShadowSnapshot {
	sn := ShadowSnapshot{Sent: s.sent.Load(), InFlight: s.inFlight.Load()}
	for i := range s.dropped {
		sn.Dropped[i] = s.dropped[i].Load()
	}
	sn.BothOK, sn.ShadowFailed = s.pairs[0].Load(), s.pairs[1].Load()
	sn.StableFailed, sn.BothFailed = s.pairs[2].Load(), s.pairs[3].Load()
	sn.StableBuckets, sn.ShadowBuckets = make([]int64, numBounds+1), make([]int64, numBounds+1)
	for i := range s.stable {
		sn.StableBuckets[i] = s.stable[i].Load()
		sn.ShadowBuckets[i] = s.shadow[i].Load()
	}
	sn.StableSlower, sn.ShadowSlower = s.prefix(0), s.prefix(1)
	return sn
}

func (s *ShadowStats) drop(r DropReason) { s.dropped[r].Add(1) }

// pair records one copied request's outcomes; status 0 is no answer.
func (s *ShadowStats) pair(stable, shadow int, stableLat, shadowLat time.Duration) {
	s.pairs[2*b2i(failed(stable))+b2i(failed(shadow))].Add(1)
	bs, bn := bucket(stableLat.Seconds()), bucket(shadowLat.Seconds())
	s.shadow[bn].Add(1)
	s.stable[bs].Add(1)
	side, lo, hi := 1, bs, bn
	if bs > bn {
		side, lo, hi = 0, bn, bs
	}
	if lo != hi {
		s.mu.Lock()
		s.slower[side][lo]++
		s.slower[side][hi]--
		s.mu.Unlock()
	}
}

// prefix sums side's difference array over the bounds (not +Inf).
func (s *ShadowStats) prefix(side int) []int64 {
	out := make([]int64, numBounds)
	var n int64
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range out {
		n += s.slower[side][i]
		out[i] = n
	}
	return out
}

func failed(status int) bool { return status < 100 || status >= 500 }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sampled decides whether this request is one of the Share to copy: every
// request at 100 %, else evenly spread by a counter (no random source to
// contend on, and the copied count is exact).
func (s *Shadow) sampled() bool {
	if s.Share >= 1 {
		return true
	}
	n := s.Stats.seq.Add(1)
	return uint64(float64(n)*s.Share) != uint64(float64(n-1)*s.Share)
}

func (s *Shadow) listed(method string) bool { return slices.Contains(s.Methods, method) }

// tokenBucket bounds the copy rate; a burst of one second's worth is allowed.
type tokenBucket struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func (b *tokenBucket) allow(now time.Time, rate float64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last.IsZero() {
		b.tokens = rate
	} else {
		b.tokens = min(rate, b.tokens+now.Sub(b.last).Seconds()*rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// admit counts a copy in flight and picks the instance it goes to, unless
// a bound is reached: then the drop is counted and ok is false. An admitted
// copy is counted sent, and must leave the in-flight count once answered or
// given up on.
func (s *Shadow) admit() (b *Backend, ok bool) {
	st := s.Stats
	if st.inFlight.Add(1) > int64(s.MaxInFlight) {
		st.inFlight.Add(-1)
		st.drop(DropInFlight)
		return nil, false
	}
	reason := DropReason(-1)
	switch {
	case s.MaxRate > 0 && !st.rate.allow(time.Now(), s.MaxRate):
		reason = DropRate
	case len(s.Backends) == 0:
		reason = DropNoInstance
	}
	if reason >= 0 {
		st.inFlight.Add(-1)
		st.drop(reason)
		return nil, false
	}
	st.sent.Add(1)
	return s.Backends[int(st.rr.Add(1)%uint32(len(s.Backends)))], true
}

// send copies a request whose user was answered with stable (0: no
// answer) after stableLat, unless a bound is reached, through net/http's
// transport. build makes the copy; it runs in the copy's goroutine, so that
// the connection that carried the original goes on at once.
func (s *Shadow) send(p *Proxy, build func() (*http.Request, error), stable int, stableLat time.Duration) {
	b, ok := s.admit()
	if !ok {
		return
	}
	go func() {
		defer s.Stats.inFlight.Add(-1)
		status, lat := s.exchange(context.Background(), p, b, build)
		s.Stats.pair(stable, status, stableLat, lat)
	}()
}

// exchange sends the copy to b and reads its answer to the end; status 0
// means no (whole) answer within the timeout.
func (s *Shadow) exchange(ctx context.Context, p *Proxy, b *Backend, build func() (*http.Request, error)) (int, time.Duration) {
	req, err := build()
	if err != nil {
		return 0, 0
	}
	// Timed from the send on a connection, as the user's answer is timed on
	// stable's warm pool: rebuilding the copy and dialing are the proxy's
	// work, not the new version's.
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { start = time.Now() }})
	req = req.WithContext(ctx)
	req.URL.Scheme, req.URL.Host = "http", b.Addr
	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		return 0, time.Since(start)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, time.Since(start)
	}
	return resp.StatusCode, time.Since(start)
}

// copyRequest is the outgoing copy of r, with body, forwarded as
// writeRequest forwards a user's request, and marked as a copy.
func copyRequest(r *http.Request, body []byte) *http.Request {
	out := r.Clone(context.Background())
	out.RequestURI, out.Close = "", false
	conn := r.Header["Connection"]
	for k := range out.Header {
		if hopByHop(k) || listed(conn, k) || k == ShadowHeader || len(k) > 12 && k[:12] == "X-Forwarded-" {
			delete(out.Header, k)
		}
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		out.Header["X-Forwarded-For"] = []string{joinPrior(r.Header["X-Forwarded-For"], ip)}
	}
	out.Header["X-Forwarded-Host"] = []string{r.Host}
	out.Header["X-Forwarded-Proto"] = []string{"http"}
	if r.TLS != nil {
		out.Header["X-Forwarded-Proto"] = []string{"https"}
	}
	out.Header[ShadowHeader] = []string{"1"}
	out.Body, out.ContentLength = http.NoBody, 0
	if len(body) > 0 {
		out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	}
	return out
}

func joinPrior(prior []string, ip string) string {
	var b bytes.Buffer
	for _, p := range prior {
		b.WriteString(p)
		b.WriteString(", ")
	}
	b.WriteString(ip)
	return b.String()
}

// mirror is a request the net/http path will copy once it has answered.
type mirror struct {
	s    *Shadow
	body []byte
	sw   *statusWriter
}

// prepare decides, before r is answered, whether it is to be copied. A
// copied body is read whole (it is at most MaxBody) so that stable and the
// copy get the same bytes; w is then wrapped to learn stable's status.
func (s *Shadow) prepare(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *mirror) {
	if !s.sampled() {
		return w, nil
	}
	if !s.listed(r.Method) || r.Header["Upgrade"] != nil || r.Header["Expect"] != nil {
		s.Stats.drop(DropMethod)
		return w, nil
	}
	body, ok := s.readBody(r)
	if !ok {
		s.Stats.drop(DropBody)
		return w, nil
	}
	sw := &statusWriter{ResponseWriter: w}
	return sw, &mirror{s: s, body: body, sw: sw}
}

// readBody takes r's body, if any and small enough, and gives r the same
// bytes back to forward (the whole of what was read, then the error, when
// reading failed).
func (s *Shadow) readBody(r *http.Request) ([]byte, bool) { return takeBody(r, s.MaxBody) }

// takeBody is readBody with a bound of max bytes.
func takeBody(r *http.Request, max int64) ([]byte, bool) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, true
	}
	if r.ContentLength < 0 || r.ContentLength > max {
		return nil, false // chunked or too large: stable gets it streamed
	}
	body := make([]byte, r.ContentLength)
	n, err := io.ReadFull(r.Body, body)
	if err != nil {
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body[:n]), errReader{err}))
		return nil, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, true
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// send copies the request once its user has been answered; a client that
// went away before its answer was written gets no copy.
func (m *mirror) send(p *Proxy, r *http.Request, stableLat time.Duration) {
	if r.Context().Err() != nil {
		return
	}
	out := copyRequest(r, m.body)
	m.s.send(p, func() (*http.Request, error) { return out, nil }, m.sw.status(), stableLat)
}

// statusWriter records the status answered to the user.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK // nothing written: net/http answers 200
	}
	return w.code
}
