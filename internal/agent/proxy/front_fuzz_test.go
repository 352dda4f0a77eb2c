package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/textproto"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The front parses every plain request itself, so a request it reads
// differently from net/http (a boundary elsewhere, another Host, a header
// value net/http would refuse) is request smuggling. These tests hold its
// parser to net/http's on the same bytes.

var update = flag.Bool("update", false, "rewrite the fuzz seeds the smuggling table makes")

// frontVerdict is what the front decides on the bytes a connection starts with.
type frontVerdict string

const (
	frontServe   frontVerdict = "serve"   // it forwards the request itself
	frontHandoff frontVerdict = "handoff" // net/http reads the request (and answers any error)
	frontWait    frontVerdict = "wait"    // no request yet: it reads on, or closes at EOF
	frontRefuse  frontVerdict = "refuse"  // it answers 400 itself and closes
)

// frontDecision is the front's reading of one request.
type frontDecision struct {
	verdict frontVerdict
	close   bool   // the front ends the connection after answering
	n       int    // bytes the request took: the next one starts there
	out     []byte // the head it sends upstream (serve only)
}

// testClientIP is the client address the front's forwarded heads carry.
const testClientIP = "192.0.2.1"

// frontDecide runs the front's parser on the first request in data.
func frontDecide(data []byte) frontDecision {
	br := bufio.NewReaderSize(bytes.NewReader(data), maxHead)
	head, req, err := nextRequest(br)
	switch {
	case errors.Is(err, errHandoff):
		return frontDecision{verdict: frontHandoff}
	case errors.Is(err, errAmbiguous):
		return frontDecision{verdict: frontRefuse, close: true}
	case err != nil:
		return frontDecision{verdict: frontWait}
	}
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	(&front{clientIP: testClientIP}).writeUpstream(bw, head, &req)
	_ = bw.Flush()
	return frontDecision{verdict: frontServe, close: req.close, n: len(head), out: out.Bytes()}
}

// netHTTPRead reads the first request in data as net/http's server does:
// http.ReadRequest and then the server's own checks (conn.readRequest in
// net/http/server.go). It returns the request with its body read and the
// bytes after it.
func netHTTPRead(data []byte) (req *http.Request, body, rest []byte, err error) {
	br := bufio.NewReader(bytes.NewReader(data))
	req, err = http.ReadRequest(br)
	if err != nil {
		return nil, nil, nil, err
	}
	if req.ProtoMajor != 1 {
		return nil, nil, nil, errors.New("unsupported protocol version")
	}
	// ReadRequest drops the Host header the server checks: read it again,
	// as readRequest does.
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(data)))
	_, _ = tp.ReadLine()
	mime, _ := tp.ReadMIMEHeader()
	hosts, haveHost := mime["Host"]
	if req.ProtoAtLeast(1, 1) && (!haveHost || len(hosts) == 0) && req.Method != "CONNECT" {
		return nil, nil, nil, errors.New("missing required Host header")
	}
	if len(hosts) == 1 && !validHostHeader(hosts[0]) {
		return nil, nil, nil, errors.New("malformed Host header")
	}
	for k, vv := range req.Header {
		if !validHeaderName(k) {
			return nil, nil, nil, errors.New("invalid header name")
		}
		for _, v := range vv {
			if !validHeaderValue(v) {
				return nil, nil, nil, errors.New("invalid header value")
			}
		}
	}
	if body, err = io.ReadAll(req.Body); err != nil {
		return nil, nil, nil, err
	}
	rest, _ = io.ReadAll(br)
	return req, body, rest, nil
}

// net/http's header checks, as golang.org/x/net/http/httpguts has them
// (std vendors it, out of a test's reach).

func validHostHeader(h string) bool {
	for _, c := range []byte(h) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || strings.IndexByte("!$%&()*+,-.:;=[']_~", c) >= 0) {
			return false
		}
	}
	return true
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range []byte(k) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func validHeaderValue(v string) bool {
	for _, c := range []byte(v) {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// dropped are the headers the proxy does not pass on as the client sent
// them: hop-by-hop ones and those it sets itself.
var dropped = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization",
	"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", ShadowHeader}

// checkFront compares the front's decision on data with net/http's reading
// of the same bytes, request after request while the front serves them.
func checkFront(t *testing.T, data []byte) {
	t.Helper()
	for i := 0; len(data) > 0; i++ {
		d := frontDecide(data)
		want, body, rest, nerr := netHTTPRead(data)
		switch d.verdict {
		case frontHandoff, frontRefuse:
			return // net/http reads it all from here, or nothing more is read
		case frontWait:
			// The front would wait (and close at EOF) where net/http has a
			// whole request to serve: it must not stall one.
			if nerr == nil {
				t.Fatalf("request %d: the front waits for more where net/http reads %s %q: %q", i, want.Method, want.RequestURI, data)
			}
			return
		}
		if nerr != nil {
			t.Fatalf("request %d: the front serves what net/http refuses (%v): %q", i, nerr, data)
		}
		if len(body) != 0 || want.ContentLength > 0 || want.TransferEncoding != nil {
			t.Fatalf("request %d: the front serves a request net/http reads a body for (%q): %q", i, body, data)
		}
		if !bytes.Equal(data[d.n:], rest) {
			t.Fatalf("request %d: the front's next request starts at %q, net/http's at %q: %q", i, data[d.n:], rest, data)
		}
		if d.close != want.Close {
			t.Fatalf("request %d: the front closes after it: %v, net/http: %v: %q", i, d.close, want.Close, data)
		}
		compareUpstream(t, i, data, d.out, want)
		data = data[d.n:]
		if d.close {
			return
		}
	}
}

// compareUpstream checks that the head the front sends upstream reads as
// the client's request did to net/http: same method, target, Host and
// headers, with X-Forwarded-* set as the net/http path sets them.
func compareUpstream(t *testing.T, i int, data, out []byte, want *http.Request) {
	t.Helper()
	got, body, rest, err := netHTTPRead(out)
	if err != nil || len(body) != 0 || len(rest) != 0 {
		t.Fatalf("request %d: the head sent upstream %q does not read back (%v, body %q, rest %q): %q", i, out, err, body, rest, data)
	}
	if got.Method != want.Method || got.RequestURI != want.RequestURI || got.Host != want.Host {
		t.Fatalf("request %d: upstream gets %s %q Host %q, net/http reads %s %q Host %q: %q",
			i, got.Method, got.RequestURI, got.Host, want.Method, want.RequestURI, want.Host, data)
	}
	xff := strings.Join(append(slices.Clone(want.Header["X-Forwarded-For"]), testClientIP), ", ")
	if g := got.Header["X-Forwarded-For"]; len(g) != 1 || g[0] != xff {
		t.Fatalf("request %d: upstream X-Forwarded-For %q, want %q: %q", i, g, xff, data)
	}
	if g := got.Header.Get("X-Forwarded-Host"); g != want.Host {
		t.Fatalf("request %d: upstream X-Forwarded-Host %q, want %q: %q", i, g, want.Host, data)
	}
	gh, wh := got.Header.Clone(), want.Header.Clone()
	for _, k := range dropped {
		delete(gh, k)
		delete(wh, k)
	}
	if !reflect.DeepEqual(gh, wh) {
		t.Fatalf("request %d: upstream headers %q, net/http reads %q: %q", i, gh, wh, data)
	}
}

// FuzzFront holds the front to net/http on arbitrary bytes. Its seeds in
// testdata/fuzz/FuzzFront include every smuggling case of
// TestFrontSmuggling (see TestFrontCorpus).
func FuzzFront(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) { checkFront(t, data) })
}

func TestFrontDifferential(t *testing.T) {
	for _, data := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a?b=c HTTP/1.1\r\nHost: x:8080\r\nAccept: */*\r\nX-Forwarded-For: 10.0.0.1\r\n\r\nHEAD /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nPragma: no-cache\r\nA: 1\r\na: 2\r\n\r\n",
	} {
		if d := frontDecide([]byte(data)); d.verdict != frontServe {
			t.Errorf("%q: %s, want serve", data, d.verdict)
		}
		checkFront(t, []byte(data))
	}
}
