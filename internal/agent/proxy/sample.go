package proxy

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The sample: every proxy keeps a few recent requests it served, so that
// another environment (a staging with no users) can replay them to judge a
// new version on real requests. Only requests that are safe to repeat are
// kept, without credentials, and within small budgets: capturing must cost
// the requests it skips next to nothing.

// Budgets of a proxy's sample.
const (
	SampleEvery    = 50 * time.Millisecond // at most 20 captures a second
	SampleMax      = 1000                  // requests kept; the oldest goes
	SampleMaxBytes = 4 << 20               // bytes kept, as SampledRequest sizes
	SampleMaxBody  = 4 << 10               // a request with a larger body is not kept
)

// SampledRequest is a request a proxy served, as kept for replay.
type SampledRequest struct {
	Method string // GET, HEAD or OPTIONS
	URI    string // the request target as received, e.g. /items?id=3
	Host   string
	// Header is without credentials (Authorization, Proxy-Authorization,
	// Cookie), hop-by-hop headers, X-Forwarded-* and ShadowHeader.
	Header http.Header
	Body   []byte
	At     time.Time
}

// size is what the request counts against SampleMaxBytes.
func (r SampledRequest) size() int {
	n := len(r.Method) + len(r.URI) + len(r.Host) + len(r.Body)
	for k, vs := range r.Header {
		n += len(k)
		for _, v := range vs {
			n += len(v)
		}
	}
	return n
}

// sampler is a proxy's sample: a ring of recent requests.
type sampler struct {
	next     atomic.Int64 // unix ns before which nothing is captured
	every    time.Duration
	max      int
	maxBytes int
	mu       sync.Mutex
	ring     []SampledRequest // allocated at the first capture
	start, n int              // the oldest's index, and how many
	bytes    int
}

func newSampler() *sampler {
	return &sampler{every: SampleEvery, max: SampleMax, maxBytes: SampleMaxBytes}
}

// due is the hot path's check, made before anything is copied: whether a
// request that started at now (unix ns) may be captured. A request not
// captured costs this one atomic load and comparison.
func (s *sampler) due(now int64) bool { return now >= s.next.Load() }

// claim takes the capture at now for one request; among requests due at
// once, one wins.
func (s *sampler) claim(now int64) bool {
	next := s.next.Load()
	return now >= next && s.next.CompareAndSwap(next, now+int64(s.every))
}

// sampledMethod: only requests that a replay cannot turn into side effects.
func sampledMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// offer captures r, which started at now, if it is due and may be kept. A
// body within SampleMaxBody is read and given back to r to forward.
func (s *sampler) offer(r *http.Request, now time.Time) {
	if !s.due(now.UnixNano()) || !sampledMethod(r.Method) || r.Header["Upgrade"] != nil || r.Header["Expect"] != nil {
		return
	}
	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	if hasBody && (r.ContentLength < 0 || r.ContentLength > SampleMaxBody) {
		return // streamed to the instance as it comes; a replay without it would be another request
	}
	if !s.claim(now.UnixNano()) {
		return
	}
	var body []byte
	if hasBody {
		b, ok := takeBody(r, SampleMaxBody)
		if !ok {
			return
		}
		body = b
	}
	s.add(sampled(r, body, now))
}

// offerHead captures the request the front serves from head, if it is due.
func (s *sampler) offerHead(head []byte, now time.Time) {
	if !s.due(now.UnixNano()) || !s.claim(now.UnixNano()) {
		return
	}
	// Rare (SampleEvery): parsing with net/http is cheap enough, and the
	// result is the same as the net/http path's.
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
	if err != nil || !sampledMethod(r.Method) {
		return
	}
	s.add(sampled(r, nil, now))
}

// sampled is r as kept: without the headers a replay must not carry.
func sampled(r *http.Request, body []byte, now time.Time) SampledRequest {
	h := make(http.Header, len(r.Header))
	conn := r.Header["Connection"]
	for k, vs := range r.Header {
		if kept(http.CanonicalHeaderKey(k), conn) {
			h[k] = append([]string(nil), vs...)
		}
	}
	return SampledRequest{Method: r.Method, URI: r.RequestURI, Host: r.Host, Header: h, Body: body, At: now}
}

func kept(k string, conn []string) bool {
	switch k {
	case "Authorization", "Proxy-Authorization", "Cookie", ShadowHeader, "Content-Length", "Expect", "Forwarded":
		return false
	}
	return !hopByHop(k) && !listed(conn, k) && !strings.HasPrefix(k, "X-Forwarded-")
}

// add keeps r, dropping the oldest requests over the budgets.
func (s *sampler) add(r SampledRequest) {
	n := r.size()
	if n > s.maxBytes {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ring == nil {
		s.ring = make([]SampledRequest, s.max)
	}
	for s.n > 0 && (s.n >= s.max || s.bytes+n > s.maxBytes) {
		s.bytes -= s.ring[s.start].size()
		s.ring[s.start] = SampledRequest{}
		s.start, s.n = (s.start+1)%s.max, s.n-1
	}
	s.ring[(s.start+s.n)%s.max] = r
	s.n++
	s.bytes += n
}

// snapshot copies the sample, oldest first.
func (s *sampler) snapshot() []SampledRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SampledRequest, s.n)
	for i := range out {
		r := s.ring[(s.start+i)%s.max]
		r.Header, r.Body = r.Header.Clone(), bytes.Clone(r.Body)
		out[i] = r
	}
	return out
}

// Sample is a copy of the recent requests this proxy served and kept for
// replay (see SampledRequest), oldest first.
func (p *Proxy) Sample() []SampledRequest { return p.sample.snapshot() }

// SampleSize is the number of requests in the sample.
func (p *Proxy) SampleSize() int {
	p.sample.mu.Lock()
	defer p.sample.mu.Unlock()
	return p.sample.n
}
