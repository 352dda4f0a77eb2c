package proxy

import (
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// sampling serves a proxy with one version that records what it saw and
// captures every request it may keep (no rate budget).
func sampling(t *testing.T, sticky Sticky, s *seen) (string, *Proxy) {
	t.Helper()
	p := New(slog.New(slog.DiscardHandler))
	p.sample.every = 0
	up := httptest.NewServer(handler(s, "stable"))
	t.Cleanup(up.Close)
	st := &Stats{}
	p.Swap(NewTable([]*Route{{Version: "v1", Weight: 100, Stats: st, Backends: []*Backend{p.NewBackend("v1", strings.TrimPrefix(up.URL, "http://"), st)}}}, sticky, ""))
	return serve(t, p), p
}

func do(t *testing.T, method, url, body string, hdr ...string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body == "" {
		req.Body = http.NoBody
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// The sample keeps what a replay may send again: safe methods only, and
// never a user's credentials or the forwarding headers of this hop.
func TestSampleKeepsSafeRequestsWithoutCredentials(t *testing.T) {
	for name, sticky := range paths {
		t.Run(name, func(t *testing.T) {
			var s seen
			url, p := sampling(t, sticky, &s)
			secrets := []string{"Authorization", "Bearer x", "Cookie", "session=x", "Proxy-Authorization", "Basic x",
				"X-Forwarded-For", "10.0.0.1", "X-Forwarded-Proto", "https", ShadowHeader, "1"}
			do(t, "GET", url+"/a?x=1", "", append([]string{"X-User", "u", "X-Keep", "yes"}, secrets...)...)
			do(t, "POST", url+"/p", "body", "X-User", "u")
			do(t, "PUT", url+"/p", "body", "X-User", "u")
			do(t, "DELETE", url+"/p", "", "X-User", "u")
			do(t, "HEAD", url+"/h", "", "X-User", "u")
			do(t, "OPTIONS", url+"/o", "", "X-User", "u")
			sample := p.Sample()
			var methods []string
			for _, r := range sample {
				methods = append(methods, r.Method+" "+r.URI)
			}
			if want := []string{"GET /a?x=1", "HEAD /h", "OPTIONS /o"}; !slices.Equal(methods, want) {
				t.Fatalf("sample %v; want %v", methods, want)
			}
			g := sample[0]
			for i := 0; i < len(secrets); i += 2 {
				if v := g.Header.Values(secrets[i]); v != nil {
					t.Errorf("sample kept %s: %v", secrets[i], v)
				}
			}
			if g.Header.Get("X-Keep") != "yes" || !strings.HasPrefix(g.Host, "127.0.0.1:") || g.At.IsZero() {
				t.Errorf("sampled GET %+v", g)
			}
			if n, _, _, _ := s.get(); n != 6 {
				t.Errorf("the backend saw %d requests; sampling must not stop one", n)
			}
		})
	}
}

// A small body of a GET is kept and still forwarded whole; a larger one
// makes the request one not to keep (a replay without it would differ).
func TestSampleBodyOfGET(t *testing.T) {
	s := &sampler{every: 0, max: 10, maxBytes: 1 << 20}
	small := httptest.NewRequest("GET", "/q", strings.NewReader("query"))
	s.offer(small, time.Now())
	if b, _ := io.ReadAll(small.Body); string(b) != "query" {
		t.Fatalf("forwarded body %q after capture", b)
	}
	s.offer(httptest.NewRequest("GET", "/big", strings.NewReader(strings.Repeat("x", SampleMaxBody+1))), time.Now())
	got := s.snapshot()
	if len(got) != 1 || string(got[0].Body) != "query" || got[0].Header.Get("Content-Length") != "" {
		t.Fatalf("sample %+v; want the small GET alone, with its body", got)
	}
}

// The ring keeps the newest requests within its count and byte budgets.
func TestSampleBudgets(t *testing.T) {
	s := &sampler{every: 0, max: 10, maxBytes: 2000}
	for i := range 25 {
		s.offer(httptest.NewRequest("GET", "/"+strings.Repeat("n", i), nil), time.Now())
	}
	got := s.snapshot()
	if len(got) != 10 || got[0].URI != "/"+strings.Repeat("n", 15) || got[9].URI != "/"+strings.Repeat("n", 24) {
		t.Fatalf("kept %d, from %q to %q; want the newest 10", len(got), got[0].URI, got[len(got)-1].URI)
	}
	big := func(i int) *http.Request {
		r := httptest.NewRequest("GET", "/big", nil)
		r.Header.Set("X-Pad", strings.Repeat("p", 600))
		r.Header.Set("X-I", string(rune('a'+i)))
		return r
	}
	for i := range 5 {
		s.offer(big(i), time.Now())
	}
	got = s.snapshot()
	if len(got) != 3 || got[0].Header.Get("X-I") != "c" || s.bytes > s.maxBytes {
		t.Fatalf("kept %d requests, %d bytes; want the 3 newest of ~620 bytes within 2000", len(got), s.bytes)
	}
	huge := httptest.NewRequest("GET", "/huge", nil)
	huge.Header.Set("X-Pad", strings.Repeat("p", 3000))
	s.offer(huge, time.Now())
	if got := s.snapshot(); len(got) != 3 || got[2].URI != "/big" {
		t.Fatalf("a request over the whole budget displaced others: %d kept", len(got))
	}
}

// Captures are at most one per SampleEvery, however many requests come.
func TestSampleRate(t *testing.T) {
	s := newSampler()
	now := time.Now()
	for i := range 1000 {
		s.offer(httptest.NewRequest("GET", "/", nil), now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := len(s.snapshot()); n != 20 {
		t.Fatalf("%d captures in 1 s of requests; want 20", n)
	}
	// A POST that is due does not use up the capture.
	s = newSampler()
	s.offer(httptest.NewRequest("POST", "/", nil), now)
	s.offer(httptest.NewRequest("GET", "/", nil), now)
	if n := len(s.snapshot()); n != 1 {
		t.Fatalf("%d captures; want the GET after the POST", n)
	}
}

// BenchmarkSampleSkip is what sampling costs a request it does not capture
// (all but 20 a second): the check both serving paths make first.
func BenchmarkSampleSkip(b *testing.B) {
	s := newSampler()
	s.next.Store(math.MaxInt64)
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if s.due(now.UnixNano()) {
				b.Fatal("due")
			}
		}
	})
}

// BenchmarkSampleCapture is one capture, for scale: it happens 20 times a
// second at most.
func BenchmarkSampleCapture(b *testing.B) {
	s := &sampler{every: 0, max: SampleMax, maxBytes: SampleMaxBytes}
	r := httptest.NewRequest("GET", "/items?id=3", nil)
	r.Header.Set("User-Agent", "bench")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Authorization", "Bearer x")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		s.offer(r, now)
	}
}
