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
	"time"
)

func backend(t *testing.T, name string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/stream":
			f := w.(http.Flusher)
			for i := range 3 {
				fmt.Fprintf(w, "chunk%d\n", i)
				f.Flush()
				time.Sleep(50 * time.Millisecond)
			}
			return
		case "/fail":
			w.WriteHeader(http.StatusInternalServerError)
		}
		fmt.Fprint(w, name)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func serve(t *testing.T, p *Proxy) string {
	t.Helper()
	l, err := Listen("127.0.0.1:0", p, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return "http://" + l.Addr()
}

func get(t *testing.T, c *http.Client, url string, hdr ...string) (string, *http.Response) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return string(b), resp
}

func twoVersions(p *Proxy, t *testing.T, canaryWeight float64, sticky Sticky) (*Stats, *Stats) {
	sa, sb := &Stats{}, &Stats{}
	a := &Route{Version: "v1", Weight: 100 - canaryWeight, Stats: sa, Backends: []*Backend{p.NewBackend("v1", backend(t, "v1"), sa)}}
	b := &Route{Version: "v2", Weight: canaryWeight, Stats: sb, Backends: []*Backend{p.NewBackend("v2", backend(t, "v2"), sb)}}
	p.Swap(NewTable([]*Route{a, b}, sticky, "X-Version"))
	return sa, sb
}

func TestSplitStatsAndVersionHeader(t *testing.T) {
	p := New(slog.New(slog.DiscardHandler))
	url := serve(t, p)
	sa, sb := twoVersions(p, t, 10, Sticky{})
	n := map[string]int{}
	for range 2000 {
		body, resp := get(t, http.DefaultClient, url+"/x")
		if resp.Header.Get("X-Version") != body {
			t.Fatalf("header %q but served by %q", resp.Header.Get("X-Version"), body)
		}
		n[body]++
	}
	if n["v2"] < 120 || n["v2"] > 280 {
		t.Fatalf("canary got %d of 2000 at 10%%", n["v2"])
	}
	a, b := sa.Snapshot(), sb.Snapshot()
	if a.Requests != int64(n["v1"]) || b.Requests != int64(n["v2"]) || a.ByClass[2] != a.Requests {
		t.Fatalf("stats %+v %+v vs %v", a.ByClass, b.ByClass, n)
	}
	get(t, http.DefaultClient, url+"/fail", "X-Unused", "1")
	if e := sa.Snapshot().Errors + sb.Snapshot().Errors; e != 1 {
		t.Fatalf("errors = %d, want 1", e)
	}
}

func TestStickyHeaderAndCookie(t *testing.T) {
	p := New(slog.New(slog.DiscardHandler))
	url := serve(t, p)
	twoVersions(p, t, 50, Sticky{Header: "X-User", Cookie: "belay"})
	for u := range 20 {
		first, _ := get(t, http.DefaultClient, url, "X-User", fmt.Sprint("user", u))
		for range 5 {
			if again, _ := get(t, http.DefaultClient, url, "X-User", fmt.Sprint("user", u)); again != first {
				t.Fatalf("user%d moved from %s to %s", u, first, again)
			}
		}
	}
	// Without the header, the proxy sets a cookie and honours it after.
	first, resp := get(t, http.DefaultClient, url)
	cookies := resp.Cookies()
	if len(cookies) != 1 || cookies[0].Name != "belay" {
		t.Fatalf("cookies %v", cookies)
	}
	for range 10 {
		if again, _ := get(t, http.DefaultClient, url, "Cookie", "belay="+cookies[0].Value); again != first {
			t.Fatalf("cookie client moved from %s to %s", first, again)
		}
	}
}

func TestRetryOnDeadInstanceAndNoBackend(t *testing.T) {
	p := New(slog.New(slog.DiscardHandler))
	url := serve(t, p)
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	s := &Stats{}
	r := &Route{Version: "v1", Weight: 100, Stats: s, Backends: []*Backend{p.NewBackend("v1", deadAddr, s), p.NewBackend("v1", backend(t, "live"), s)}}
	p.Swap(NewTable([]*Route{r}, Sticky{}, ""))
	for range 10 {
		if body, resp := get(t, http.DefaultClient, url); body != "live" || resp.StatusCode != 200 {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
	}
	// A POST is not repeated: half of them reach the dead instance and fail.
	var failed int
	for range 10 {
		resp, err := http.Post(url, "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusBadGateway {
			failed++
		}
	}
	if failed != 5 || s.Snapshot().ByClass[classProxyError] != 5 {
		t.Fatalf("failed POSTs %d, proxy errors %d; want 5 and 5", failed, s.Snapshot().ByClass[classProxyError])
	}
	p.Swap(NewTable(nil, Sticky{}, ""))
	if _, resp := get(t, http.DefaultClient, url); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("empty table: %d", resp.StatusCode)
	}
}

func TestStreamingAndH2C(t *testing.T) {
	p := New(slog.New(slog.DiscardHandler))
	url := serve(t, p)
	twoVersions(p, t, 0, Sticky{})
	resp, err := http.Get(url + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "chunk0\n" {
		t.Fatalf("first chunk %q %v", line, err)
	}
	resp.Body.Close()

	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	h2 := &http.Client{Transport: &http.Transport{Protocols: &protos}}
	body, resp := get(t, h2, url)
	if resp.ProtoMajor != 2 || body != "v1" {
		t.Fatalf("h2c: proto %s body %q", resp.Proto, body)
	}
}

func TestWebSocketUpgrade(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "want upgrade", 400)
			return
		}
		conn, brw, _ := w.(http.Hijacker).Hijack()
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo " + line)
		brw.Flush()
	}))
	defer echo.Close()
	p := New(slog.New(slog.DiscardHandler))
	url := serve(t, p)
	s := &Stats{}
	p.Swap(NewTable([]*Route{{Version: "v1", Weight: 100, Stats: s, Backends: []*Backend{p.NewBackend("v1", strings.TrimPrefix(echo.URL, "http://"), s)}}}, Sticky{}, ""))
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	fmt.Fprint(conn, "ping\n")
	if line, _ := br.ReadString('\n'); line != "echo ping\n" {
		t.Fatalf("got %q", line)
	}
}

// A 503 says whether the service has no version at all or only no healthy
// instance, the same through the front and through net/http.
func TestUnavailableSaysWhy(t *testing.T) {
	p := New(slog.New(slog.DiscardHandler))
	url := serve(t, p)
	s := &Stats{}
	for _, c := range []struct {
		table *Table
		want  string
	}{
		{NewTable(nil, Sticky{}, ""), "no version of this service is deployed\n"},
		{NewTable([]*Route{{Version: "v1", Weight: 100, Stats: s}}, Sticky{}, ""), "no healthy instance\n"},
	} {
		p.Swap(c.table)
		for _, hdr := range []string{"X-Plain", "Content-Length"} { // the front; net/http
			body, resp := get(t, http.DefaultClient, url, hdr, "0")
			if resp.StatusCode != http.StatusServiceUnavailable || body != c.want || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Errorf("%s: %d %q %v, want 503 %q", hdr, resp.StatusCode, body, resp.Header, c.want)
			}
		}
	}
}
