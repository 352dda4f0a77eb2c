// Package proxy is the agent's reverse proxy: it splits each request between
// a service's versions by weight (or by a sticky key), balances across a
// version's healthy instances, retries an idempotent request once on another
// instance after a connection failure, and measures every version apart.
package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"time"
)

// Backend is one instance the proxy can send requests to.
type Backend struct {
	Addr     string // host:port
	Version  string
	inFlight atomic.Int64
	rp       *httputil.ReverseProxy
	pool     pool
}

// Close drops the idle connections to this instance (it is being stopped).
func (b *Backend) Close() { b.pool.close() }

// InFlight is the number of requests this instance is serving now.
func (b *Backend) InFlight() int64 { return b.inFlight.Load() }

// Proxy routes requests by its current Table. It is an http.Handler.
type Proxy struct {
	table     atomic.Pointer[Table]
	transport *http.Transport
	log       *slog.Logger
	buffers   bufferPool
	sample    *sampler // recent requests, kept across tables
}

// GCPercent is the garbage collector setting the agent runs with: the
// proxy's allocations are short-lived per request, so collecting less often
// buys throughput for a few MB more heap.
const GCPercent = 400

// New returns a proxy with an empty table (every request answered 503).
func New(log *slog.Logger) *Proxy {
	p := &Proxy{log: log, sample: newSampler(), transport: &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ExpectContinueTimeout: time.Second,
	}}
	p.table.Store(NewTable(nil, Sticky{}, ""))
	return p
}

// NewBackend prepares an instance at addr serving version, measured into stats.
func (p *Proxy) NewBackend(version, addr string, stats *Stats) *Backend {
	b := &Backend{Addr: addr, Version: version}
	b.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = b.Addr
			pr.SetXForwarded()
			pr.Out.Header.Del(ShadowHeader) // only copies carry it
		},
		Transport:  &retrier{p: p, b: b},
		BufferPool: &p.buffers,
		ModifyResponse: func(resp *http.Response) error {
			stats.code(resp.StatusCode)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
				return // the client went away; nothing to answer, nobody to blame
			}
			stats.proxyError()
			p.log.Warn("proxy error", "version", version, "instance", b.Addr, "err", err)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	return b
}

// Swap puts t in force for the next request.
func (p *Proxy) Swap(t *Table) { p.table.Store(t) }

// Table is the table in force.
func (p *Proxy) Table() *Table { return p.table.Load() }

// CloseIdle drops idle upstream connections, e.g. to stopped instances.
func (p *Proxy) CloseIdle() { p.transport.CloseIdleConnections() }

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t, f, cookie := p.begin(p.table.Load(), r)
	if f.route == nil {
		http.Error(w, t.unavailable(), http.StatusServiceUnavailable)
		return
	}
	defer f.end()
	var m *mirror
	if t.shadow != nil {
		w, m = t.shadow.prepare(w, r)
	}
	if p.sample.due(f.start.UnixNano()) {
		p.sample.offer(r, f.start)
	}
	if cookie != "" {
		t.setCookie(w, cookie)
	}
	if t.versionHeader != "" {
		w.Header()[t.versionHeader] = []string{f.route.Version}
	}
	p.forward(w, r, f)
	if m != nil {
		m.send(p, r, time.Since(f.start))
	}
}

// forward answers r from the flight's instance, or another of its version
// when the fast path's connection fails before an answer.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, f flight) {
	b := f.b
	if !fastPath(r) {
		b.rp.ServeHTTP(w, r)
		return
	}
	buf := p.buffers.Get()
	defer p.buffers.Put(buf)
	err := b.serveFast(w, r, f.route.Stats, buf)
	if err != nil && r.Context().Err() == nil {
		if alt := f.route.other(b); alt != nil {
			err = alt.serveFast(w, r, f.route.Stats, buf)
		}
	}
	if err != nil {
		f.route.Stats.proxyError()
		p.log.Warn("proxy error", "version", f.route.Version, "instance", b.Addr, "err", err)
		w.WriteHeader(http.StatusBadGateway)
	}
}

// flight is one request counted in flight, on its instance and its version,
// from the moment its route was picked until end.
type flight struct {
	route *Route // nil: no route has a healthy instance
	b     *Backend
	start time.Time
}

// begin picks the route for r (see Table.pick) from t, the table in force,
// and an instance of it, and counts the request in flight on that instance
// before it goes anywhere. Then it checks that t is still in force: a table
// swapped in meanwhile may already have had its retired instances drained
// (found idle), so the request gives its count back and picks again from the
// new table. A drain that waits for an instance's count to reach zero after
// a swap thus never misses a request that picked the old table.
func (p *Proxy) begin(t *Table, r *http.Request) (*Table, flight, string) {
	for {
		route, cookie := t.pick(r)
		if route == nil {
			return t, flight{}, ""
		}
		b := route.next()
		if testHookPicked != nil {
			testHookPicked()
		}
		b.inFlight.Add(1)
		if now := p.table.Load(); now != t {
			b.inFlight.Add(-1)
			t = now
			continue
		}
		route.Stats.inFlight.Add(1)
		return t, flight{route: route, b: b, start: time.Now()}, cookie
	}
}

// testHookPicked, when set by a test, runs between a request's pick and its
// count in flight: the window a drain must not miss.
var testHookPicked func()

// end records the request's latency and takes it out of flight.
func (f flight) end() {
	f.route.Stats.latency(time.Since(f.start))
	f.route.Stats.inFlight.Add(-1)
	f.b.inFlight.Add(-1)
}

// retrier sends a request to its backend and, when that fails before an
// answer and the request can safely be repeated, once to another healthy
// instance of the same version.
type retrier struct {
	p *Proxy
	b *Backend
}

func (rt *retrier) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rt.p.transport.RoundTrip(req)
	if err == nil || !replayable(req) || req.Context().Err() != nil {
		return resp, err
	}
	alt := rt.p.alternative(rt.b)
	if alt == nil {
		return resp, err
	}
	rt.p.log.Debug("retrying on another instance", "version", rt.b.Version, "failed", rt.b.Addr, "retry", alt.Addr, "err", err)
	req.URL.Host = alt.Addr // the outgoing request is the proxy's own copy
	return rt.p.transport.RoundTrip(req)
}

func replayable(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return r.Body == nil || r.Body == http.NoBody
	}
	return false
}

func (p *Proxy) alternative(b *Backend) *Backend {
	for _, r := range p.table.Load().routes {
		if r.Version == b.Version && len(r.Backends) > 0 {
			return r.other(b)
		}
	}
	return nil
}

// bufferPool recycles the 32 KiB copy buffers of streamed bodies.
type bufferPool struct{ pool sync.Pool }

func (bp *bufferPool) Get() []byte {
	if b, ok := bp.pool.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, 32<<10)
}

func (bp *bufferPool) Put(b []byte) { bp.pool.Put(&b) }
