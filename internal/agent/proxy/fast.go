package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The fast path serves bodyless GET, HEAD and OPTIONS requests (the bulk of
// traffic) on pooled upstream connections entirely in the handler's
// goroutine: no transport goroutines or channel hand-offs per request, which
// is where net/http's Transport spends its time. Everything else (bodies,
// upgrades, Expect) takes httputil.ReverseProxy.

// errUpstream marks a failure before any answer reached the client, which
// the caller may retry on another instance.
var errUpstream = errors.New("upstream connection failed")

const maxIdlePerBackend = 512

type upConn struct {
	c  net.Conn
	br *bufio.Reader
	bw *bufio.Writer
}

// pool keeps idle keep-alive connections to one instance, newest first out.
type pool struct {
	mu     sync.Mutex
	idle   []*upConn
	closed bool
}

func (p *pool) get() *upConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		return c
	}
	return nil
}

func (p *pool) put(c *upConn) {
	p.mu.Lock()
	if p.closed || len(p.idle) >= maxIdlePerBackend {
		p.mu.Unlock()
		c.c.Close()
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, c := range idle {
		c.c.Close()
	}
}

var dialer = net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}

func (b *Backend) dial() (*upConn, error) {
	c, err := dialer.Dial("tcp", b.Addr)
	if err != nil {
		return nil, err
	}
	return &upConn{c: c, br: bufio.NewReaderSize(c, maxHead), bw: bufio.NewWriterSize(c, 4<<10)}, nil
}

func fastPath(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		return false
	}
	return (r.Body == nil || r.Body == http.NoBody) && r.Header["Upgrade"] == nil && r.Header["Expect"] == nil
}

// serveFast proxies r to b. An error wrapping errUpstream means nothing was
// written to w and the request may go to another instance.
func (b *Backend) serveFast(w http.ResponseWriter, r *http.Request, stats *Stats, buf []byte) error {
	resp, uc, err := b.roundTrip(r)
	if err != nil {
		return err
	}
	copyResponseHeader(w.Header(), resp.Header)
	stats.code(resp.StatusCode)
	w.WriteHeader(resp.StatusCode)
	err = copyBody(w, resp, buf)
	if err != nil || resp.Close || r.Close {
		uc.c.Close()
		return nil // the status is out; a broken body is the client's or the instance's to see
	}
	b.pool.put(uc)
	return nil
}

// roundTrip sends r and reads the answer's head.
func (b *Backend) roundTrip(r *http.Request) (*http.Response, *upConn, error) {
	return withConn(b, func(uc *upConn) (*http.Response, error) { return exchange(uc, r) })
}

// withConn runs send (write a request, read the answer's head) on a pooled
// connection to b. A pooled connection the instance closed meanwhile is
// replaced by a fresh one once. An error wraps errUpstream: nothing has
// reached the client yet.
func withConn[T any](b *Backend, send func(*upConn) (T, error)) (T, *upConn, error) {
	for attempt := 0; ; attempt++ {
		uc, reused := b.pool.get(), true
		if uc == nil || attempt > 0 {
			if uc != nil {
				uc.c.Close() // likely as stale as the one that failed
			}
			var err error
			if uc, err = b.dial(); err != nil {
				var zero T
				return zero, nil, errors.Join(errUpstream, err)
			}
			reused = false
		}
		v, err := send(uc)
		if err == nil {
			return v, uc, nil
		}
		uc.c.Close()
		if !reused || attempt > 0 || isTimeout(err) { // a deadline passed (copies): not a stale connection
			var zero T
			return zero, nil, errors.Join(errUpstream, err)
		}
	}
}

func exchange(uc *upConn, r *http.Request) (*http.Response, error) {
	if err := writeRequest(uc.bw, r); err != nil {
		return nil, err
	}
	for {
		resp, err := http.ReadResponse(uc.br, r)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
		// An informational answer (103 Early Hints, …): skip to the real one.
	}
}

// writeRequest writes r's head as HTTP/1.1 without hop-by-hop headers,
// adding X-Forwarded-For/-Host/-Proto as httputil.ProxyRequest.SetXForwarded does.
func writeRequest(bw *bufio.Writer, r *http.Request) error {
	uri := r.RequestURI
	if uri == "" || r.ProtoMajor == 2 {
		uri = r.URL.RequestURI()
	}
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(uri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(r.Host)
	bw.WriteString("\r\n")
	conn := r.Header["Connection"]
	for k, vv := range r.Header {
		if hopByHop(k) || listed(conn, k) || strings.HasPrefix(k, "X-Forwarded-") || k == ShadowHeader {
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		bw.WriteString("X-Forwarded-For: ")
		for _, prior := range r.Header["X-Forwarded-For"] {
			bw.WriteString(prior)
			bw.WriteString(", ")
		}
		bw.WriteString(ip)
		bw.WriteString("\r\n")
	}
	bw.WriteString("X-Forwarded-Host: ")
	bw.WriteString(r.Host)
	if r.TLS == nil {
		bw.WriteString("\r\nX-Forwarded-Proto: http\r\n\r\n")
	} else {
		bw.WriteString("\r\nX-Forwarded-Proto: https\r\n\r\n")
	}
	return bw.Flush()
}

func copyResponseHeader(dst, src http.Header) {
	conn := src["Connection"]
	for k, vv := range src {
		if hopByHop(k) || listed(conn, k) {
			continue
		}
		dst[k] = append(dst[k], vv...)
	}
}

// copyBody streams the body; a body of unknown length is flushed as it comes
// (server-sent events, long polls).
func copyBody(w http.ResponseWriter, resp *http.Response, buf []byte) error {
	defer resp.Body.Close()
	if resp.ContentLength >= 0 {
		_, err := io.CopyBuffer(writerOnly{w}, resp.Body, buf)
		return err
	}
	rc := http.NewResponseController(w)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			_ = rc.Flush()
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// writerOnly hides ReadFrom so that io.CopyBuffer uses the pooled buffer.
type writerOnly struct{ io.Writer }

func hopByHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// listed reports whether the Connection header names k as hop-by-hop.
func listed(conn []string, k string) bool {
	for _, v := range conn {
		for _, f := range strings.Split(v, ",") {
			if http.CanonicalHeaderKey(strings.TrimSpace(f)) == k {
				return true
			}
		}
	}
	return false
}
