package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawShadow is a shadow instance speaking HTTP/1.1 by hand, so that a test
// sees a copy's exact bytes and the connections copies came on, and can
// answer as net/http would not.
type rawShadow struct {
	addr   string
	mu     sync.Mutex
	heads  []string
	conns  int // accepted
	closed int // ended by the proxy (EOF while waiting for a request)
}

// newRawShadow answers each request head with answer(i), i counting
// requests from 0; an answer ending in "\x00" is written without its last
// byte and the connection closed; nil holds the connection until the proxy
// closes it.
func newRawShadow(t *testing.T, answer func(i int) []byte) *rawShadow {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &rawShadow{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
			go s.serve(c, answer)
		}
	}()
	return s
}

func (s *rawShadow) serve(c net.Conn, answer func(i int) []byte) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		var head strings.Builder
		for {
			line, err := br.ReadString('\n')
			head.WriteString(line)
			if err != nil {
				if head.Len() == 0 {
					s.mu.Lock()
					s.closed++
					s.mu.Unlock()
				}
				return
			}
			if line == "\r\n" {
				break
			}
		}
		s.mu.Lock()
		i := len(s.heads)
		s.heads = append(s.heads, head.String())
		s.mu.Unlock()
		a := answer(i)
		if a == nil {
			_, _ = io.Copy(io.Discard, br) // hang until the proxy gives up
			s.mu.Lock()
			s.closed++
			s.mu.Unlock()
			return
		}
		if a[len(a)-1] == 0 {
			c.Write(a[:len(a)-1])
			return
		}
		c.Write(a)
	}
}

func (s *rawShadow) get() (heads []string, conns, closed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.heads...), s.conns, s.closed
}

// frontGets sends n GETs of head, one after another on one connection (so
// that the front serves them), waiting after each until its copy is paired.
func frontGets(t *testing.T, url, head string, n int, st *ShadowStats) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i := range n {
		io.WriteString(c, head)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(resp.Body); string(b) != "stable" {
			t.Fatalf("answer %d: %q", i, b)
		}
		settle(t, st, int64(i+1))
	}
}

func TestShadowFrontCopyMarkedAndPaired(t *testing.T) {
	sh := newRawShadow(t, func(i int) []byte {
		if i%2 == 0 {
			return []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy")
		}
		return []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n")
	})
	var a seen
	url, st := shadowed(t, Sticky{}, handler(&a, "stable"), nil, Shadow{Share: 1, Backends: []*Backend{{Addr: sh.addr, Version: "v2"}}})
	req := "GET /x?q=1 HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.1\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\n" +
		ShadowHeader + ": 0\r\nX-Forwarded-Proto: https\r\nX-App: a\r\n\r\n"
	frontGets(t, url, req, 6, st)

	// Byte for byte as the front forwards the user's request, plus the
	// mark: not rebuilt by net/http, which would reorder and add headers.
	want := "GET /x?q=1 HTTP/1.1\r\nHost: h\r\nX-App: a\r\nX-Forwarded-For: 10.0.0.1, 127.0.0.1\r\n" +
		"X-Forwarded-Host: h\r\nX-Forwarded-Proto: http\r\n" + ShadowHeader + ": 1\r\n\r\n"
	heads, conns, _ := sh.get()
	for i, h := range heads {
		if h != want {
			t.Errorf("copy %d:\n%q\nwant\n%q", i, h, want)
		}
	}
	if _, marked, _, _ := a.get(); marked != 0 {
		t.Errorf("stable saw %d marked requests", marked)
	}
	sn := st.Snapshot()
	if len(heads) != 6 || sn.Sent != 6 || sn.BothOK != 3 || sn.ShadowFailed != 3 {
		t.Errorf("want 6 copies, 3 answered 503: %d heads, %+v", len(heads), sn)
	}
	var nh int64
	for _, n := range sn.ShadowBuckets {
		nh += n
	}
	if nh != 6 {
		t.Errorf("shadow latencies recorded: %d, want 6", nh)
	}
	if conns != 1 {
		t.Errorf("copies came on %d connections; want 1, reused after each whole answer", conns)
	}
}

func TestShadowFrontCopyAbandonedAtTimeout(t *testing.T) {
	sh := newRawShadow(t, func(int) []byte { return nil })
	var a seen
	const timeout = 50 * time.Millisecond
	url, st := shadowed(t, Sticky{}, handler(&a, "stable"), nil,
		Shadow{Share: 1, Timeout: timeout, Backends: []*Backend{{Addr: sh.addr, Version: "v2"}}})
	start := time.Now()
	frontGets(t, url, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 3, st)
	if d := time.Since(start); d > 3*timeout+2*time.Second {
		t.Errorf("3 copies to a hanging shadow took %v with a %v timeout", d, timeout)
	}
	sn := st.Snapshot()
	if sn.Sent != 3 || sn.ShadowFailed != 3 || sn.InFlight != 0 {
		t.Errorf("want 3 copies failed at the timeout: %+v", sn)
	}
	for i, b := range LatencyBounds {
		if b < timeout.Seconds() && sn.ShadowBuckets[i] > 0 {
			t.Errorf("%d copies timed under %gs, before the timeout", sn.ShadowBuckets[i], b)
		}
	}
	// Each copy on its own connection, which the proxy closed.
	deadline := time.Now().Add(5 * time.Second)
	for {
		heads, conns, closed := sh.get()
		if len(heads) == 3 && conns == 3 && closed == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d copies on %d connections, %d closed by the proxy; want 3, 3, 3", len(heads), conns, closed)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestShadowFrontCopyCutShort(t *testing.T) {
	for name, answer := range map[string]string{
		"length":  "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc\x00",
		"chunked": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\nabc\x00",
		"head":    "HTTP/1.1 200 OK\r\nContent-Len\x00",
	} {
		t.Run(name, func(t *testing.T) {
			sh := newRawShadow(t, func(int) []byte { return []byte(answer) })
			var a seen
			url, st := shadowed(t, Sticky{}, handler(&a, "stable"), nil, Shadow{Share: 1, Backends: []*Backend{{Addr: sh.addr, Version: "v2"}}})
			frontGets(t, url, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 4, st)
			if sn := st.Snapshot(); sn.Sent != 4 || sn.ShadowFailed != 4 {
				t.Errorf("want 4 copies failed: %+v", sn)
			}
		})
	}
}
