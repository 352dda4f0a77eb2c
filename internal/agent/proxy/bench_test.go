package proxy

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// benchProxy serves one version with one instance that answers a fixed
// small body, so that the proxy's own work weighs as much as it can.
// With shadow, every request is also copied to a second such instance.
func benchProxy(b *testing.B, shadow bool) string {
	b.Helper()
	hello := func() string {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		}))
		b.Cleanup(up.Close)
		return strings.TrimPrefix(up.URL, "http://")
	}
	p := New(slog.New(slog.DiscardHandler))
	s := &Stats{}
	t := NewTable([]*Route{{Version: "v1", Weight: 100, Stats: s, Backends: []*Backend{p.NewBackend("v1", hello(), s)}}}, Sticky{}, "")
	if shadow {
		t = t.WithShadow(&Shadow{Version: "v2", Share: 1, Stats: &ShadowStats{}, Backends: []*Backend{p.NewBackend("v2", hello(), &Stats{})}})
	}
	p.Swap(t)
	l, err := Listen("127.0.0.1:0", p, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l.Addr()
}

// BenchmarkProxy sends keep-alive GETs through the proxy, one connection
// per goroutine: plain ones, which the front serves, and ones with a
// Content-Length, which it hands to net/http; each also with every request
// copied to a shadow version.
func BenchmarkProxy(b *testing.B) {
	for name, req := range map[string]string{
		"front":   "GET / HTTP/1.1\r\nHost: bench\r\n\r\n",
		"nethttp": "GET / HTTP/1.1\r\nHost: bench\r\nContent-Length: 0\r\n\r\n",
	} {
		for _, shadow := range []bool{false, true} {
			run := name
			if shadow {
				run += "-shadow"
			}
			b.Run(run, func(b *testing.B) { benchRequests(b, benchProxy(b, shadow), req) })
		}
	}
}

func benchRequests(b *testing.B, addr, req string) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		br, get := bufio.NewReader(c), &http.Request{Method: "GET"}
		for pb.Next() {
			io.WriteString(c, req)
			resp, err := http.ReadResponse(br, get)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

// BenchmarkBeginEnd is the per-request routing and accounting alone: pick a
// route and an instance, count the request in flight, record its latency.
func BenchmarkBeginEnd(b *testing.B) {
	p := New(slog.New(slog.DiscardHandler))
	sa, sb := &Stats{}, &Stats{}
	p.Swap(NewTable([]*Route{
		{Version: "v1", Weight: 90, Stats: sa, Backends: []*Backend{p.NewBackend("v1", "127.0.0.1:1", sa), p.NewBackend("v1", "127.0.0.1:2", sa)}},
		{Version: "v2", Weight: 10, Stats: sb, Backends: []*Backend{p.NewBackend("v2", "127.0.0.1:3", sb)}},
	}, Sticky{}, ""))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, f, _ := p.begin(p.table.Load(), nil)
			f.end()
		}
	})
}
