package proxy

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// replaying is a proxy whose table has stable v1 (weight 100) and a replay
// shadow v2; live requests reach v1 alone.
func replaying(t *testing.T, stable, shadow http.Handler, sh Shadow) (*Proxy, *ShadowStats) {
	t.Helper()
	p := New(slog.New(slog.DiscardHandler))
	addr := func(h http.Handler) string {
		s := httptest.NewServer(h)
		t.Cleanup(s.Close)
		return strings.TrimPrefix(s.URL, "http://")
	}
	s1 := &Stats{}
	tbl := NewTable([]*Route{{Version: "v1", Weight: 100, Stats: s1, Backends: []*Backend{p.NewBackend("v1", addr(stable), s1)}}}, Sticky{}, "")
	sh.Version, sh.Stats, sh.Replay, sh.Share = "v2", &ShadowStats{}, true, 1
	sh.Backends = []*Backend{p.NewBackend("v2", addr(shadow), &Stats{})}
	p.Swap(tbl.WithShadow(&sh))
	return p, sh.Stats
}

// headers records the headers of the marked requests a backend saw.
type headers struct {
	mu   sync.Mutex
	seen []http.Header
}

func (h *headers) handler(fail string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.seen = append(h.seen, r.Header.Clone())
		h.mu.Unlock()
		if fail != "" && strings.HasPrefix(r.URL.Path, fail) {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
}

func (h *headers) get() []http.Header {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]http.Header(nil), h.seen...)
}

// Each replayed request reaches stable and the shadow, marked and without
// the dropped headers; the pairs count as mirrored pairs do; Replay
// returns once stopped, and counts an empty sample once a round.
func TestReplayPairsStableAndShadow(t *testing.T) {
	var a, b headers
	p, st := replaying(t, a.handler(""), b.handler("/fail"), Shadow{DropHeaders: []string{"X-Secret"}})
	if p.Table().Shadow() != nil {
		t.Fatal("a replay shadow mirrors live requests")
	}
	sample := []SampledRequest{
		{Method: "GET", URI: "/ok?x=1", Host: "prod.example", Header: http.Header{"X-Secret": {"s"}, "X-Keep": {"k"}}},
		{Method: "GET", URI: "/fail/1", Host: "prod.example", Header: http.Header{}},
	}
	var mu sync.Mutex
	calls := 0
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Replay(ctx, func() []SampledRequest {
			mu.Lock()
			defer mu.Unlock()
			calls++
			return sample
		}, 200)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for st.Snapshot().Pairs() < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("no 20 pairs: %+v", st.Snapshot())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	sn := st.Snapshot()
	if sn.BothOK == 0 || sn.ShadowFailed == 0 || sn.StableFailed+sn.BothFailed != 0 || sn.Sent != sn.Pairs() || sn.InFlight != 0 {
		t.Errorf("after stop: %+v; want both-ok and shadow-failed pairs, each sent one paired", sn)
	}
	mu.Lock()
	if calls < 10 {
		t.Errorf("sample taken %d times for %d pairs; want a fresh one each time it is used up", calls, sn.Pairs())
	}
	mu.Unlock()
	for side, h := range map[string]*headers{"stable": &a, "shadow": &b} {
		for _, hd := range h.get() {
			if hd.Get(ShadowHeader) != "1" || hd.Get("X-Secret") != "" {
				t.Fatalf("%s saw %v; want the mark and no X-Secret", side, hd)
			}
		}
	}
	if len(a.get()) < 20 || len(b.get()) < 20 {
		t.Errorf("stable saw %d, shadow %d replayed requests", len(a.get()), len(b.get()))
	}

	// An empty sample: no pair, and the reason shows.
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	before := st.Snapshot()
	p.Replay(ctx, func() []SampledRequest { return nil }, 50)
	after := st.Snapshot()
	if n := after.Dropped[DropNoSample] - before.Dropped[DropNoSample]; n < 3 || n > 12 || after.Pairs() != before.Pairs() {
		t.Errorf("empty sample for 200 ms at 50/s: %d no_sample drops, %d new pairs; want about one a round (10), none", n, after.Pairs()-before.Pairs())
	}
}

// A hanging shadow holds at most MaxInFlight replays; the rest are dropped,
// and stopping the replay gives the hanging ones up without a pair.
func TestReplayBoundedInFlight(t *testing.T) {
	release := make(chan struct{})
	var a headers
	p, st := replaying(t, a.handler(""), http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }), Shadow{MaxInFlight: 3})
	t.Cleanup(func() { close(release) })
	// Replay until 10 copies were dropped (or 10 s pass on a slow machine),
	// then stop it: the 3 copies still waiting are cut short.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		for ctx.Err() == nil && st.Snapshot().Dropped[DropInFlight] < 10 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	p.Replay(ctx, func() []SampledRequest { return []SampledRequest{{Method: "GET", URI: "/", Host: "h"}} }, 100)
	sn := st.Snapshot()
	if sn.Dropped[DropInFlight] < 10 || sn.Sent != 0 || sn.Pairs() != 0 || sn.InFlight != 0 {
		t.Errorf("%+v; want in-flight drops, and the 3 cut short neither sent nor paired", sn)
	}
}
