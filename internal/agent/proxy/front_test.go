package proxy

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// raw sends bytes on a fresh connection to the proxy and reads n answers.
func raw(t *testing.T, addr, send string, n int, methods ...string) []*http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, send); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var out []*http.Response
	for i := range n {
		req := &http.Request{Method: "GET"}
		if i < len(methods) {
			req.Method = methods[i]
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(strings.NewReader(string(b)))
		resp.Header.Set("X-Test-Body", string(b))
		out = append(out, resp)
	}
	return out
}

func TestFrontRawHTTP1(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			w.Write([]byte("part1,"))
			w.(http.Flusher).Flush()
			w.Write([]byte("part2"))
			return
		case "/nobody":
			w.WriteHeader(http.StatusNoContent)
			return
		}
		fmt.Fprintf(w, "%s %s xff=%s fwdhost=%s ka=%q", r.Method, r.URL.RequestURI(), r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Host"), r.Header.Get("Keep-Alive"))
	}))
	defer up.Close()
	p := New(slog.New(slog.DiscardHandler))
	l, err := Listen("127.0.0.1:0", p, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := &Stats{}
	p.Swap(NewTable([]*Route{{Version: "v9", Weight: 100, Stats: s, Backends: []*Backend{p.NewBackend("v9", strings.TrimPrefix(up.URL, "http://"), s)}}}, Sticky{}, "X-V"))

	// Pipelined keep-alive requests, a client-supplied X-Forwarded-For, a hop-by-hop header.
	rs := raw(t, l.Addr(), "GET /a?x=1 HTTP/1.1\r\nHost: h.test\r\nX-Forwarded-For: 10.0.0.1\r\nKeep-Alive: 5\r\n\r\n"+
		"HEAD /b HTTP/1.1\r\nHost: h.test\r\n\r\n"+
		"GET /chunked HTTP/1.1\r\nHost: h.test\r\n\r\n"+
		"GET /nobody HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n", 4, "GET", "HEAD", "GET", "GET")
	if b := rs[0].Header.Get("X-Test-Body"); b != `GET /a?x=1 xff=10.0.0.1, 127.0.0.1 fwdhost=h.test ka=""` || rs[0].Header.Get("X-V") != "v9" {
		t.Fatalf("first: %q %v", b, rs[0].Header)
	}
	if rs[1].StatusCode != 200 || rs[1].ContentLength <= 0 || rs[1].Header.Get("X-Test-Body") != "" {
		t.Fatalf("HEAD: %d length %d body %q", rs[1].StatusCode, rs[1].ContentLength, rs[1].Header.Get("X-Test-Body"))
	}
	if rs[2].Header.Get("X-Test-Body") != "part1,part2" || rs[2].TransferEncoding == nil {
		t.Fatalf("chunked: %q %v", rs[2].Header.Get("X-Test-Body"), rs[2].TransferEncoding)
	}
	if rs[3].StatusCode != 204 || !rs[3].Close {
		t.Fatalf("204 with close: %d close=%v", rs[3].StatusCode, rs[3].Close)
	}
	if got := s.Snapshot().Requests; got != 4 {
		t.Fatalf("requests counted %d, want 4", got)
	}

	// What the front does not serve goes to net/http: HTTP/1.0, a body, a folded header.
	if r := raw(t, l.Addr(), "GET /old HTTP/1.0\r\nHost: h.test\r\n\r\n", 1)[0]; r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("X-Test-Body"), "GET /old") {
		t.Fatalf("HTTP/1.0: %d %q", r.StatusCode, r.Header.Get("X-Test-Body"))
	}
	if r := raw(t, l.Addr(), "POST /p HTTP/1.1\r\nHost: h.test\r\nContent-Length: 2\r\n\r\nhi", 1)[0]; r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("X-Test-Body"), "POST /p") {
		t.Fatalf("POST: %d %q", r.StatusCode, r.Header.Get("X-Test-Body"))
	}
	if r := raw(t, l.Addr(), "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 1)[0]; r.StatusCode != 400 {
		t.Fatalf("two Host headers: %d, want 400", r.StatusCode)
	}
}

func TestParseRequest(t *testing.T) {
	for head, ok := range map[string]bool{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n":                               true,
		"GET / HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive\r\n\r\n":     true,
		"GET / HTTP/1.1\r\n\r\n":                                          false, // no Host
		"GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n":                       false, // absolute form
		"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n":                            false,
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n":          false,
		"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n": false,
		"GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n":                false,
		"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n":         false,
		"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n":                            false,
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n":                                false,
		"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n":                            false, // net/http: invalid URL escape
		"GET /?%zz HTTP/1.1\r\nHost: x\r\n\r\n":                           true,  // the query is not unescaped
		"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For:\r\n\r\n":           false, // net/http's path forwards ", <client>"
		"GET / HTTP/1.1\r\nHost: x\"y\r\n\r\n":                            false, // net/http: malformed Host header
	} {
		if _, got := parseRequest([]byte(head)); got != ok {
			t.Errorf("parseRequest(%q) ok=%v, want %v", head, got, ok)
		}
	}
}
