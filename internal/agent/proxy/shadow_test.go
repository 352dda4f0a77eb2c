package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// paths are the proxy's two ways of serving a request: the front (plain
// GET) and net/http (forced for every request by a sticky header).
var paths = map[string]Sticky{"front": {}, "nethttp": {Header: "X-User"}}

// seen is what a backend saw of the requests it served.
type seen struct {
	mu      sync.Mutex
	n       int
	marked  int // with X-Belay-Shadow: 1
	methods map[string]int
	bodies  []string
}

func (s *seen) record(r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if r.Header.Get(ShadowHeader) == "1" {
		s.marked++
	}
	if s.methods == nil {
		s.methods = map[string]int{}
	}
	s.methods[r.Method]++
	if len(b) > 0 {
		s.bodies = append(s.bodies, string(b))
	}
}

func (s *seen) get() (n, marked int, methods map[string]int, bodies []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n, s.marked, s.methods, s.bodies
}

// shadowed serves a proxy whose only version is answered by stable and
// whose copies go to shadow; sh sets the bounds (its Version, Backends and
// Stats are filled in).
func shadowed(t *testing.T, sticky Sticky, stable, shadow http.Handler, sh Shadow) (url string, st *ShadowStats) {
	t.Helper()
	p := New(slog.New(slog.DiscardHandler))
	s := &Stats{}
	up := httptest.NewServer(stable)
	t.Cleanup(up.Close)
	rt := &Route{Version: "v1", Weight: 100, Stats: s, Backends: []*Backend{p.NewBackend("v1", strings.TrimPrefix(up.URL, "http://"), s)}}
	tbl := NewTable([]*Route{rt}, sticky, "")
	if shadow != nil || sh.Backends != nil {
		if shadow != nil {
			sv := httptest.NewServer(shadow)
			t.Cleanup(sv.Close)
			sh.Backends = []*Backend{p.NewBackend("v2", strings.TrimPrefix(sv.URL, "http://"), &Stats{})}
		}
		sh.Version, sh.Stats = "v2", &ShadowStats{}
		tbl = tbl.WithShadow(&sh)
		st = sh.Stats
	}
	p.Swap(tbl)
	return serve(t, p), st
}

func handler(s *seen, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		io.WriteString(w, body)
	})
}

// accounted waits until n sampled requests are each sent or dropped: a
// request is copied only after its answer, so the client may see the
// answer before its copy is counted.
func accounted(t *testing.T, st *ShadowStats, n int64, done func(ShadowSnapshot) bool) ShadowSnapshot {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		sn := st.Snapshot()
		total := sn.Sent
		for _, d := range sn.Dropped {
			total += d
		}
		if total >= n && done(sn) {
			return sn
		}
		if time.Now().After(deadline) {
			t.Fatalf("copies of %d requests not settled: %+v", n, sn)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settle waits until n sampled requests are accounted for and every copy
// sent has its pair recorded.
func settle(t *testing.T, st *ShadowStats, n int64) ShadowSnapshot {
	t.Helper()
	return accounted(t, st, n, func(sn ShadowSnapshot) bool { return sn.InFlight == 0 && sn.Pairs() == sn.Sent })
}

// users sends n GETs (path /i) one after another, checks every answer is
// stable's and returns how long they took.
func users(t *testing.T, url string, n int) time.Duration {
	t.Helper()
	start := time.Now()
	for i := range n {
		body, resp := get(t, http.DefaultClient, url+"/"+strconv.Itoa(i), "X-User", "u")
		if resp.StatusCode != 200 || body != "stable" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	return time.Since(start)
}

func TestShadowCopiesMarkedAndStableNeverSeesTheMark(t *testing.T) {
	for name, sticky := range paths {
		t.Run(name, func(t *testing.T) {
			var a, b seen
			url, st := shadowed(t, sticky, handler(&a, "stable"), handler(&b, "shadow"), Shadow{Share: 1})
			for range 20 {
				// A client's own mark must not reach stable either.
				body, _ := get(t, http.DefaultClient, url+"/", "X-User", "u", ShadowHeader, "1")
				if body != "stable" {
					t.Fatalf("answer %q", body)
				}
			}
			sn := settle(t, st, 20)
			if an, am, _, _ := a.get(); an != 20 || am != 0 {
				t.Errorf("stable saw %d requests, %d marked; want 20, 0", an, am)
			}
			if bn, bm, _, _ := b.get(); bn != 20 || bm != 20 {
				t.Errorf("shadow saw %d requests, %d marked; want 20, 20", bn, bm)
			}
			if sn.Sent != 20 || sn.BothOK != 20 {
				t.Errorf("snapshot %+v", sn)
			}
		})
	}
}

func TestShadowHangingNeverDelaysUsers(t *testing.T) {
	for name, sticky := range paths {
		t.Run(name, func(t *testing.T) {
			var a, b seen
			release := make(chan struct{})
			hang := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b.record(r)
				<-release
			})
			plain, _ := shadowed(t, sticky, handler(&a, "stable"), nil, Shadow{})
			url, st := shadowed(t, sticky, handler(&a, "stable"), hang, Shadow{Share: 1, MaxInFlight: 4})
			t.Cleanup(func() { close(release) }) // before the servers close
			const n = 200
			without := users(t, plain, n)
			with := users(t, url, n)
			// Generous: a copy waiting on the hanging version would cost
			// each user request its whole wait, i.e. forever.
			if with > 3*without+time.Second {
				t.Errorf("with a hanging shadow %v, without %v", with, without)
			}
			sn := accounted(t, st, n, func(ShadowSnapshot) bool { return true })
			if sn.Sent != 4 || sn.Dropped[DropInFlight] != n-4 || sn.Pairs() != 0 {
				t.Errorf("want 4 sent, %d dropped in flight, no pair yet: %+v", n-4, sn)
			}
		})
	}
}

func TestShadowTimeoutCountsAsShadowFailure(t *testing.T) {
	release := make(chan struct{})
	var a seen
	hang := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release })
	url, st := shadowed(t, Sticky{}, handler(&a, "stable"), hang, Shadow{Share: 1, Timeout: 50 * time.Millisecond})
	t.Cleanup(func() { close(release) })
	users(t, url, 5)
	sn := settle(t, st, 5)
	if sn.ShadowFailed != 5 {
		t.Errorf("want 5 shadow failures after the timeout: %+v", sn)
	}
}

func TestShadowCrashingOrRefusing(t *testing.T) {
	crash := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, _ := w.(http.Hijacker).Hijack()
		c.Close()
	})
	for name, sticky := range paths {
		t.Run(name+"/crash", func(t *testing.T) {
			var a seen
			url, st := shadowed(t, sticky, handler(&a, "stable"), crash, Shadow{Share: 1})
			users(t, url, 30)
			if sn := settle(t, st, 30); sn.ShadowFailed != 30 || sn.Sent != 30 {
				t.Errorf("want 30 shadow failures: %+v", sn)
			}
		})
		t.Run(name+"/refuse", func(t *testing.T) {
			var a seen
			dead := []*Backend{{Addr: deadAddr(t), Version: "v2"}}
			url, st := shadowed(t, sticky, handler(&a, "stable"), nil, Shadow{Share: 1, Backends: dead})
			users(t, url, 30)
			if sn := settle(t, st, 30); sn.ShadowFailed != 30 {
				t.Errorf("want 30 shadow failures: %+v", sn)
			}
		})
	}
}

// deadAddr is an address nobody listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	return ln.Addr().String()
}

func TestShadowMethodsAndBodies(t *testing.T) {
	post := func(t *testing.T, url, body string) {
		resp, err := http.Post(url+"/p", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "stable" {
			t.Fatalf("answer %q", b)
		}
	}
	t.Run("default", func(t *testing.T) {
		var a, b seen
		url, st := shadowed(t, Sticky{}, handler(&a, "stable"), handler(&b, "shadow"), Shadow{Share: 1})
		for range 10 {
			post(t, url, "data")
		}
		sn := settle(t, st, 10)
		if n, _, _, _ := b.get(); n != 0 || sn.Dropped[DropMethod] != 10 {
			t.Errorf("shadow saw %d POSTs, want 0: %+v", n, sn)
		}
	})
	t.Run("listed", func(t *testing.T) {
		var a, b seen
		url, st := shadowed(t, Sticky{}, handler(&a, "stable"), handler(&b, "shadow"), Shadow{Share: 1, Methods: []string{"GET", "POST"}, MaxBody: 8})
		post(t, url, "data")
		post(t, url, "too long a body")
		sn := settle(t, st, 2)
		_, _, am, abodies := a.get()
		_, _, bm, bbodies := b.get()
		if bm["POST"] != 1 || fmt.Sprint(bbodies) != "[data]" || sn.Dropped[DropBody] != 1 {
			t.Errorf("shadow saw %v %q, want one POST with data: %+v", bm, bbodies, sn)
		}
		if am["POST"] != 2 || fmt.Sprint(abodies) != "[data too long a body]" {
			t.Errorf("stable saw %v %q, want both POSTs whole", am, abodies)
		}
	})
}

func TestShadowPairs(t *testing.T) {
	// Request i fails on stable when i%4 < 2 and on the shadow when i is
	// odd: each of the four outcomes comes up once in four.
	fails := func(every, below int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			i, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
			if i%every < below {
				w.WriteHeader(500)
			}
			io.WriteString(w, "x")
		})
	}
	for name, sticky := range paths {
		t.Run(name, func(t *testing.T) {
			url, st := shadowed(t, sticky, fails(4, 2), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
				if i%2 == 1 {
					w.WriteHeader(503)
				}
			}), Shadow{Share: 1})
			for i := range 40 {
				get(t, http.DefaultClient, url+"/"+strconv.Itoa(i), "X-User", "u")
			}
			sn := settle(t, st, 40)
			if sn.BothOK != 10 || sn.ShadowFailed != 10 || sn.StableFailed != 10 || sn.BothFailed != 10 {
				t.Errorf("want 10 of each pair: %+v", sn)
			}
			var ns, nh int64
			for i := range sn.StableBuckets {
				ns += sn.StableBuckets[i]
				nh += sn.ShadowBuckets[i]
			}
			if ns != 40 || nh != 40 {
				t.Errorf("latencies recorded: stable %d, shadow %d; want 40 each", ns, nh)
			}
		})
	}
}

func TestShadowShareAndRate(t *testing.T) {
	var a, b seen
	url, st := shadowed(t, Sticky{}, handler(&a, "stable"), handler(&b, "shadow"), Shadow{Share: 0.25})
	users(t, url, 40)
	if sn := settle(t, st, 10); sn.Sent != 10 {
		t.Errorf("share 25 %% of 40: sent %d", sn.Sent)
	}
	var tb tokenBucket
	now := time.Unix(1000, 0)
	n := 0
	for i := range 100 { // 100 tries over 1 s at 10/s: the burst, then 1 per 100 ms
		if tb.allow(now.Add(time.Duration(i)*10*time.Millisecond), 10) {
			n++
		}
	}
	if n < 19 || n > 20 {
		t.Errorf("token bucket allowed %d of 100 over 1 s at 10/s", n)
	}
}

// TestShadowAnswerBytesUnchanged compares the raw bytes a client receives,
// Date aside, with and without a shadow.
func TestShadowAnswerBytesUnchanged(t *testing.T) {
	stable := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Date"] = nil
		w.Header().Set("X-App", "1")
		io.WriteString(w, "stable answer")
	})
	var b seen
	plain, _ := shadowed(t, Sticky{}, stable, nil, Shadow{})
	url, st := shadowed(t, Sticky{}, stable, handler(&b, "other"), Shadow{Share: 1, Methods: []string{"GET", "POST"}})
	for _, req := range []string{
		"GET /a HTTP/1.1\r\nHost: h\r\n\r\n",                          // front
		"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc", // net/http
	} {
		want, got := rawAnswer(t, plain, req), rawAnswer(t, url, req)
		if !bytes.Equal(want, got) {
			t.Errorf("%q: without shadow %q, with %q", req, want, got)
		}
	}
	if sn := settle(t, st, 2); sn.Sent != 2 {
		t.Errorf("want 2 copies: %+v", sn)
	}
}

// rawAnswer sends req on a fresh connection and returns the bytes of the answer
// as they came, without its Date line.
func rawAnswer(t *testing.T, url, req string) []byte {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, req)
	var got bytes.Buffer
	resp, err := http.ReadResponse(bufio.NewReaderSize(io.TeeReader(c, &got), 16), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	var out []byte
	for _, line := range strings.SplitAfter(got.String(), "\r\n") {
		if !strings.HasPrefix(line, "Date: ") {
			out = append(out, line...)
		}
	}
	return out
}

func TestShadowSlowerPairs(t *testing.T) {
	var st ShadowStats
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	st.pair(200, 200, ms(5), ms(300)) // the copy slower past every bound in (5ms, 300ms)
	st.pair(200, 200, ms(5), ms(300))
	st.pair(200, 200, ms(300), ms(5)) // the user's answer slower
	st.pair(200, 200, ms(7), ms(7))   // the same bucket: no one slower
	sn := st.Snapshot()
	at := func(sec float64) int {
		for i, b := range LatencyBounds {
			if b >= sec {
				return i
			}
		}
		t.Fatalf("no bound at %v", sec)
		return -1
	}
	for _, c := range []struct {
		bound          float64
		shadow, stable int64
	}{{0.001, 0, 0}, {0.1, 2, 1}, {0.25, 2, 1}, {0.5, 0, 0}} {
		i := at(c.bound)
		if sn.ShadowSlower[i] != c.shadow || sn.StableSlower[i] != c.stable {
			t.Errorf("past %gs (bound %g): shadow slower %d, stable slower %d; want %d, %d",
				c.bound, LatencyBounds[i], sn.ShadowSlower[i], sn.StableSlower[i], c.shadow, c.stable)
		}
	}
}
