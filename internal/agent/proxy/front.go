package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The front serves plain HTTP/1.1 GET and HEAD requests, the bulk of
// traffic, in one goroutine per client connection with no per-request
// allocations beyond the unavoidable: no header maps, no background reader,
// no transport goroutines. Anything else on a connection (HTTP/1.0, h2c,
// bodies, upgrades, Expect, sticky routing, an unusual header) hands the
// connection, with the bytes already read, to net/http and the full proxy,
// which then serves it to its end. Validation is strict so that what the
// front forwards is unambiguous: a request it is unsure of goes to net/http.

const (
	maxHead     = 16 << 10
	idleTimeout = 120 * time.Second
)

var errHandoff = errors.New("hand off to net/http")

// errAmbiguous is a request framed both by Content-Length and by
// Transfer-Encoding: net/http would read it by the latter and keep the
// connection open, where RFC 9112 (6.3) has a server close it, since the
// pair is the classic way to smuggle a request past a proxy that reads it
// the other way. The front answers 400 and closes instead.
var errAmbiguous = errors.New("both Content-Length and Transfer-Encoding")

// front serves one client connection.
type front struct {
	p        *Proxy
	c        net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	clientIP string
	draining *atomic.Bool // the listener is shutting down: one request more at most
}

var frontPool = sync.Pool{New: func() any {
	return &front{br: bufio.NewReaderSize(nil, maxHead), bw: bufio.NewWriterSize(nil, 16<<10)}
}}

// serveConn runs the front on c; handoff receives the connection when the
// front will not serve it.
func (p *Proxy) serveConn(c net.Conn, handoff func(net.Conn), draining *atomic.Bool) {
	f := frontPool.Get().(*front)
	f.p, f.c, f.draining = p, c, draining
	f.br.Reset(c)
	f.bw.Reset(c)
	f.clientIP, _, _ = net.SplitHostPort(c.RemoteAddr().String())
	err := f.loop()
	if errors.Is(err, errHandoff) {
		// net/http reads on from our buffer; the front's buffers go with it.
		handoff(&bufferedConn{Conn: c, r: f.br})
		return
	}
	c.Close()
	f.p, f.c, f.draining = nil, nil, nil
	f.br.Reset(nil)
	f.bw.Reset(nil)
	frontPool.Put(f)
}

func (f *front) loop() error {
	for {
		// One deadline per request covers the idle wait and the head: the
		// front reads nothing else from the client, so it needs no clearing.
		_ = f.c.SetReadDeadline(time.Now().Add(idleTimeout))
		head, req, err := nextRequest(f.br)
		if errors.Is(err, errAmbiguous) {
			_, _ = f.bw.WriteString(ambiguousAnswer)
			_ = f.bw.Flush()
			return err
		}
		if err != nil {
			if f.draining.Load() && len(head) == 0 && f.br.Buffered() == 0 {
				return nil // idle all through Shutdown's wait: close without a word
			}
			return err
		}
		if f.draining.Load() {
			req.close = true // answer, then close: the next request goes to the next process
		}
		t := f.p.table.Load()
		if t.sticky.Header != "" || t.sticky.Cookie != "" || t.versionHeader != "" && hasHeader(head, t.versionHeader) {
			return errHandoff // pinning a version (Table.pinned) is net/http's
		}
		keep, err := f.serve(t, head, &req)
		_, _ = f.br.Discard(len(head))
		if err != nil || !keep {
			return err
		}
	}
}

// nextRequest is the front's whole decision on the bytes in br: a request
// to serve, whose head (left in br) is the request's every byte, or an error.
// errHandoff means net/http is to read the request, from br; any other error
// ends the connection (the client went away or stayed idle). The fuzz and
// smuggling tests hold it to what net/http would read from the same bytes.
func nextRequest(br *bufio.Reader) (head []byte, req request, err error) {
	head, err = readHead(br)
	if err != nil {
		return nil, req, err
	}
	req, ok := parseRequest(head)
	if !ok {
		if framedTwice(head) {
			return head, req, errAmbiguous
		}
		return head, req, errHandoff
	}
	return head, req, nil
}

const ambiguousAnswer = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 55\r\n\r\n" +
	"Content-Length and Transfer-Encoding in one request\r\n\r\n"

// framedTwice reports whether head has both a Content-Length and a
// Transfer-Encoding header, as net/http would read their names (any case,
// no space before the colon).
func framedTwice(head []byte) bool {
	_, rest := cutLine(head)
	var cl, te bool
	for len(rest) > 2 {
		var line []byte
		line, rest = cutLine(rest)
		name, _, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		cl = cl || asciiEqualFold(name, "content-length")
		te = te || asciiEqualFold(name, "transfer-encoding")
	}
	return cl && te
}

// bufferedConn is a connection whose first bytes were already read into r.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// readHead returns the bytes up to and including the blank line ending a
// message head, left in br (Peek) so that a hand-off can replay them.
func readHead(br *bufio.Reader) ([]byte, error) {
	for {
		buf, _ := br.Peek(br.Buffered())
		if i := bytes.Index(buf, crlfcrlf); i >= 0 {
			return buf[:i+4], nil
		}
		if bareLF(buf) {
			// net/http ends a line at a bare LF too, so this may be a whole
			// head: waiting for a CRLF CRLF would stall it.
			return nil, errHandoff
		}
		if br.Buffered() >= maxHead {
			return nil, errHandoff // net/http answers 431
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return nil, errHandoff
			}
			return nil, err
		}
	}
}

var crlfcrlf = []byte("\r\n\r\n")

// bareLF reports whether b holds an LF not preceded by a CR.
func bareLF(b []byte) bool {
	for i := 0; ; i++ {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return false
		}
		if i += j; i == 0 || b[i-1] != '\r' {
			return true
		}
	}
}

// request is what the front needs of a request head; slices point into it.
type request struct {
	method, target, host, xff []byte
	close                     bool
}

// parseRequest accepts only an unambiguous HTTP/1.1 GET or HEAD without a
// body; ok=false means "let net/http decide".
func parseRequest(head []byte) (r request, ok bool) {
	line, rest := cutLine(head)
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1 || string(line[sp2+1:]) != "HTTP/1.1" {
		return r, false
	}
	r.method, r.target = line[:sp1], line[sp1+1:sp2]
	if m := string(r.method); m != "GET" && m != "HEAD" {
		return r, false
	}
	if len(r.target) == 0 || r.target[0] != '/' || !visible(r.target) || !validEscapes(r.target) {
		return r, false
	}
	hosts := 0
	for len(rest) > 2 {
		line, rest = cutLine(rest)
		name, value, good := splitHeader(line)
		if !good {
			return r, false
		}
		switch kind(name) {
		case hdrHost:
			hosts++
			r.host = value
		case hdrForwardedFor:
			if r.xff != nil || len(value) == 0 {
				return r, false // net/http joins every value, empty ones too
			}
			r.xff = value
		case hdrConnection:
			switch {
			case asciiEqualFold(value, "close"):
				r.close = true
			case asciiEqualFold(value, "keep-alive"):
			default:
				return r, false
			}
		case hdrRefuse:
			return r, false
		}
	}
	return r, hosts == 1 && len(r.host) > 0 && validHost(r.host)
}

// validEscapes reports whether every % in the target's path starts an
// escape: net/http answers 400 to any other (url.ParseRequestURI).
func validEscapes(target []byte) bool {
	path, _, _ := bytes.Cut(target, []byte("?"))
	for i, c := range path {
		if c == '%' && (i+2 >= len(path) || !hexDigit(path[i+1]) || !hexDigit(path[i+2])) {
			return false
		}
	}
	return true
}

func hexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// validHost holds a Host value to net/http's check (httpguts.ValidHostHeader),
// which answers 400 to anything else.
func validHost(b []byte) bool {
	for _, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!$%&'()*+,-.:;=[]_~", c) < 0:
			return false
		}
	}
	return true
}

// hasHeader reports whether the head carries a header named name.
func hasHeader(head []byte, name string) bool {
	_, rest := cutLine(head)
	for len(rest) > 0 {
		var line []byte
		line, rest = cutLine(rest)
		if i := bytes.IndexByte(line, ':'); i > 0 && asciiEqualFold(line[:i], strings.ToLower(name)) {
			return true
		}
	}
	return false
}

func cutLine(b []byte) (line, rest []byte) {
	i := bytes.Index(b, []byte("\r\n"))
	if i < 0 {
		return b, nil
	}
	return b[:i], b[i+2:]
}

// splitHeader splits "Name: value" with a token name and a value free of
// control characters (obs-fold and bare CR/LF included).
func splitHeader(line []byte) (name, value []byte, ok bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return nil, nil, false
	}
	name = line[:i]
	for _, c := range name {
		if !tokenChar(c) {
			return nil, nil, false
		}
	}
	value = bytes.Trim(line[i+1:], " \t")
	for _, c := range value {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return nil, nil, false
		}
	}
	return name, value, true
}

func tokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0
}

func visible(b []byte) bool {
	for _, c := range b {
		if c <= 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

type hdrKind int

const (
	hdrOther        hdrKind = iota
	hdrHost                 // forwarded as is, checked
	hdrForwardedFor         // extended
	hdrDrop                 // hop-by-hop or set by the proxy: not forwarded
	hdrConnection           // hop-by-hop, inspected
	hdrRefuse               // makes the request net/http's
	hdrLength               // response framing
	hdrTransfer             // response framing
)

func kind(name []byte) hdrKind {
	switch {
	case asciiEqualFold(name, "host"):
		return hdrHost
	case asciiEqualFold(name, "x-forwarded-for"):
		return hdrForwardedFor
	case asciiEqualFold(name, "connection"):
		return hdrConnection
	case asciiEqualFold(name, "content-length"):
		return hdrRefuse
	case asciiEqualFold(name, "transfer-encoding"), asciiEqualFold(name, "upgrade"), asciiEqualFold(name, "expect"),
		asciiEqualFold(name, "te"), asciiEqualFold(name, "trailer"):
		return hdrRefuse
	case asciiEqualFold(name, "keep-alive"), asciiEqualFold(name, "proxy-connection"), asciiEqualFold(name, "proxy-authorization"),
		asciiEqualFold(name, "x-forwarded-host"), asciiEqualFold(name, "x-forwarded-proto"),
		asciiEqualFold(name, "x-belay-shadow"): // only copies carry it
		return hdrDrop
	}
	return hdrOther
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// serve proxies one request; keep reports whether the client connection
// can carry another request.
func (f *front) serve(t *Table, head []byte, req *request) (keep bool, err error) {
	t, fl, _ := f.p.begin(t, nil)
	if fl.route == nil {
		_, _ = f.bw.WriteString(unavailableResponse[t.unavailable()])
		return !req.close, f.bw.Flush()
	}
	defer fl.end()
	if f.p.sample.due(fl.start.UnixNano()) {
		f.p.sample.offerHead(head, fl.start)
	}
	route, b := fl.route, fl.b
	uc, rh, err := f.exchange(b, head, req)
	if err != nil {
		if alt := route.other(b); alt != nil {
			uc, rh, err = f.exchange(alt, head, req)
			b = alt
		}
	}
	if err != nil {
		route.Stats.proxyError()
		f.p.log.Warn("proxy error", "version", route.Version, "instance", b.Addr, "err", err)
		_, _ = f.bw.WriteString("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		err = f.bw.Flush()
		f.mirror(t.shadow, err, head, req, http.StatusBadGateway, fl.start)
		return !req.close, err
	}
	route.Stats.code(rh.status)
	upKeep, err := f.relay(uc, rh, req, t.versionHeader, route.Version)
	if err != nil || !upKeep {
		uc.c.Close()
	} else {
		b.pool.put(uc)
	}
	f.mirror(t.shadow, err, head, req, rh.status, fl.start)
	return err == nil && !req.close, err
}

// mirror copies the request just answered with status (when the answer
// reached the client: err is nil) to the shadow version, if any. Without a
// shadow it costs one comparison: the front's path stays allocation-free.
// The copy goes as the request went, over the front's own pooled exchange,
// in its own goroutine (Shadow.mirrorHead).
func (f *front) mirror(s *Shadow, err error, head []byte, req *request, status int, start time.Time) {
	if s == nil || err != nil || !s.sampled() {
		return
	}
	if !s.listed(string(req.method)) {
		s.Stats.drop(DropMethod)
		return
	}
	b, ok := s.admit()
	if !ok {
		return
	}
	// The head lives in the connection's buffer, which the next request
	// overwrites: the copy keeps its own.
	go s.mirrorHead(b, bytes.Clone(head), f.clientIP, status, time.Since(start))
}

// unavailableResponse is the front's 503 for each Table.unavailable text,
// as net/http's http.Error writes it.
var unavailableResponse = func() map[string]string {
	m := map[string]string{}
	for _, msg := range []string{noVersion, noHealthy} {
		m[msg] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
			strconv.Itoa(len(msg)+1) + "\r\n\r\n" + msg + "\n"
	}
	return m
}()

// exchange sends the request head to b and reads the answer's head.
func (f *front) exchange(b *Backend, head []byte, req *request) (*upConn, respHead, error) {
	rh, uc, err := withConn(b, func(uc *upConn) (respHead, error) {
		f.writeUpstream(uc.bw, head, req)
		return readResponseHead(uc, req)
	})
	return uc, rh, err
}

func (f *front) writeUpstream(bw *bufio.Writer, head []byte, req *request) {
	forwardHead(bw, head, req, f.clientIP, false)
}

// forwardHead writes head as forwarded upstream: hop-by-hop headers dropped,
// X-Forwarded-* set; a copy (mark) also carries ShadowHeader.
func forwardHead(bw *bufio.Writer, head []byte, req *request, clientIP string, mark bool) {
	line, rest := cutLine(head)
	bw.Write(line)
	bw.WriteString("\r\n")
	for len(rest) > 2 {
		line, rest = cutLine(rest)
		name, _, _ := splitHeader(line)
		if k := kind(name); k == hdrDrop || k == hdrConnection || k == hdrForwardedFor {
			continue
		}
		bw.Write(line)
		bw.WriteString("\r\n")
	}
	bw.WriteString("X-Forwarded-For: ")
	if req.xff != nil {
		bw.Write(req.xff)
		bw.WriteString(", ")
	}
	bw.WriteString(clientIP)
	bw.WriteString("\r\nX-Forwarded-Host: ")
	bw.Write(req.host)
	if mark {
		bw.WriteString("\r\nX-Forwarded-Proto: http\r\n" + ShadowHeader + ": 1\r\n\r\n")
	} else {
		bw.WriteString("\r\nX-Forwarded-Proto: http\r\n\r\n")
	}
}

// respHead is what the front needs of a response head.
type respHead struct {
	head    []byte // in the upstream reader's buffer until discarded
	status  int
	length  int64 // -1: unknown
	chunked bool
	close   bool
}

var errBadResponse = errors.New("malformed response from instance")

func readResponseHead(uc *upConn, req *request) (respHead, error) {
	for {
		if err := uc.bw.Flush(); err != nil {
			return respHead{}, err
		}
		head, err := readHead(uc.br)
		if err != nil {
			return respHead{}, err
		}
		rh := respHead{head: head, length: -1}
		line, rest := cutLine(head)
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
			return rh, errBadResponse
		}
		rh.status, err = strconv.Atoi(string(line[9:12]))
		if err != nil || rh.status < 100 || rh.status > 999 {
			return rh, errBadResponse
		}
		rh.close = line[7] == '0'
		if rh.status < 200 { // informational: skip to the final answer
			_, _ = uc.br.Discard(len(head))
			continue
		}
		for len(rest) > 2 {
			line, rest = cutLine(rest)
			name, value, ok := splitHeader(line)
			if !ok {
				return rh, errBadResponse
			}
			switch {
			case asciiEqualFold(name, "content-length"):
				n, err := strconv.ParseInt(string(value), 10, 64)
				if err != nil || n < 0 || (rh.length >= 0 && rh.length != n) {
					return rh, errBadResponse
				}
				rh.length = n
			case asciiEqualFold(name, "transfer-encoding"):
				if !asciiEqualFold(value, "chunked") {
					return rh, errBadResponse
				}
				rh.chunked = true
			case asciiEqualFold(name, "connection"):
				rh.close = rh.close || asciiEqualFold(value, "close")
			}
		}
		if rh.chunked {
			rh.length = -1
		}
		if string(req.method) == "HEAD" || rh.status == 204 || rh.status == 304 {
			rh.length, rh.chunked = 0, false
		}
		return rh, nil
	}
}

// relay writes the answer to the client, re-framing the body; upKeep
// reports whether the upstream connection can be reused.
func (f *front) relay(uc *upConn, rh respHead, req *request, versionHeader, version string) (upKeep bool, err error) {
	bw := f.bw
	line, rest := cutLine(rh.head)
	bw.WriteString("HTTP/1.1")
	bw.Write(line[8:])
	bw.WriteString("\r\n")
	for len(rest) > 2 {
		line, rest = cutLine(rest)
		name, _, _ := splitHeader(line)
		if hopByHopBytes(name) || (asciiEqualFold(name, "content-length") && string(req.method) != "HEAD") {
			continue
		}
		bw.Write(line)
		bw.WriteString("\r\n")
	}
	if versionHeader != "" {
		bw.WriteString(versionHeader)
		bw.WriteString(": ")
		bw.WriteString(version)
		bw.WriteString("\r\n")
	}
	if req.close {
		bw.WriteString("Connection: close\r\n")
	}
	headLen := len(rh.head)
	switch {
	case rh.length >= 0:
		if string(req.method) != "HEAD" {
			bw.WriteString("Content-Length: ")
			bw.WriteString(strconv.FormatInt(rh.length, 10))
			bw.WriteString("\r\n")
		}
		bw.WriteString("\r\n")
		_, _ = uc.br.Discard(headLen)
		if _, err := io.CopyN(bw, uc.br, rh.length); err != nil {
			return false, err
		}
		return !rh.close, bw.Flush()
	default:
		bw.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		_, _ = uc.br.Discard(headLen)
		return f.relayStream(uc, rh)
	}
}

// relayStream copies a body of unknown length as chunks, flushing each so
// that streams (server-sent events, long polls) flow.
func (f *front) relayStream(uc *upConn, rh respHead) (bool, error) {
	var src io.Reader = uc.br
	if rh.chunked {
		src = httputil.NewChunkedReader(uc.br)
	}
	cw := httputil.NewChunkedWriter(f.bw)
	buf := f.p.buffers.Get()
	defer f.p.buffers.Put(buf)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := cw.Write(buf[:n]); werr != nil {
				return false, werr
			}
			if ferr := f.bw.Flush(); ferr != nil {
				return false, ferr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return false, err
		}
	}
	if err := cw.Close(); err != nil {
		return false, err
	}
	f.bw.WriteString("\r\n")
	if !rh.chunked {
		return false, f.bw.Flush() // read until close: the connection is spent
	}
	// Skip the upstream's trailer section, up to its blank line.
	for {
		line, err := uc.br.ReadSlice('\n')
		if err != nil {
			return false, err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			break
		}
	}
	return !rh.close, f.bw.Flush()
}

func hopByHopBytes(name []byte) bool {
	for _, h := range []string{"connection", "proxy-connection", "keep-alive", "proxy-authenticate", "te", "trailer", "transfer-encoding", "upgrade"} {
		if asciiEqualFold(name, h) {
			return true
		}
	}
	return false
}
