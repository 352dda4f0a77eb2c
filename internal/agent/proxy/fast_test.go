package proxy

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestFastPathHeadersAndReuse(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Keep-Alive", "timeout=5") // hop-by-hop: must not reach the client
		w.Header().Set("X-Seen", fmt.Sprintf("conn=%q xff=%q host=%q proto=%q te=%q", r.Header.Get("Connection"), r.Header.Get("X-Forwarded-For"), r.Host, r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Drop")))
		fmt.Fprint(w, "body")
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	p := New(slog.New(slog.DiscardHandler))
	url := serve(t, p)
	s := &Stats{}
	p.Swap(NewTable([]*Route{{Version: "v1", Weight: 100, Stats: s, Backends: []*Backend{p.NewBackend("v1", strings.TrimPrefix(srv.URL, "http://"), s)}}}, Sticky{}, ""))
	for range 5 {
		req, _ := http.NewRequest("GET", url+"/p?q=1", nil)
		req.Header.Set("Connection", "X-Drop")
		req.Header.Set("X-Drop", "secret")
		req.Host = "example.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen := resp.Header.Get("X-Seen")
		if string(b) != "body" || resp.Header.Get("Keep-Alive") != "" ||
			seen != `conn="" xff="127.0.0.1" host="example.test" proto="http" te=""` {
			t.Fatalf("body %q keep-alive %q seen %s", b, resp.Header.Get("Keep-Alive"), seen)
		}
	}
	req, _ := http.NewRequest("HEAD", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 || resp.ContentLength != 4 {
		t.Fatalf("HEAD: %v %v", resp, err)
	}
	resp.Body.Close()
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d upstream connections for 6 sequential requests; want 1 kept alive", n)
	}
	if s.Snapshot().ByClass[2] != 6 {
		t.Fatalf("2xx counted %d, want 6", s.Snapshot().ByClass[2])
	}
}
