package proxy

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A request that picked its route from the old table just before a swap
// must not reach an instance that a drain then found idle and stopped: it
// is either counted in flight there (and waited for) or routed by the new
// table. The hook holds the request between its pick and its count, the
// window that an unguarded drain misses.
func TestPickJustBeforeSwapIsNotLost(t *testing.T) {
	for name, hdr := range map[string]string{
		"front":    "",
		"net/http": "Content-Length", // the front hands such a request to net/http
	} {
		t.Run(strings.ReplaceAll(name, "/", "_"), func(t *testing.T) {
			var stopped atomic.Bool
			var late atomic.Int64
			oldAddr := backendFunc(t, func(w http.ResponseWriter) {
				if stopped.Load() {
					late.Add(1)
				}
				io.WriteString(w, "old")
			})
			p := New(slog.New(slog.DiscardHandler))
			url := serve(t, p)
			so, sn := &Stats{}, &Stats{}
			oldB := p.NewBackend("old", oldAddr, so)
			p.Swap(NewTable([]*Route{{Version: "old", Weight: 100, Stats: so, Backends: []*Backend{oldB}}}, Sticky{}, ""))

			picked, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			testHookPicked = func() { once.Do(func() { close(picked); <-release }) }
			t.Cleanup(func() { testHookPicked = nil })
			got := make(chan string, 1)
			go func() {
				req, _ := http.NewRequest("GET", url, nil)
				if hdr != "" {
					req.Header.Set(hdr, "0")
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					got <- err.Error()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				got <- string(b)
			}()
			<-picked

			// What the agent does to retire a version: swap, drain, stop.
			p.Swap(NewTable([]*Route{{Version: "new", Weight: 100, Stats: sn, Backends: []*Backend{p.NewBackend("new", backend(t, "new"), sn)}}}, Sticky{}, ""))
			for oldB.InFlight() > 0 {
				time.Sleep(time.Millisecond)
			}
			stopped.Store(true)
			close(release)

			if body := <-got; body != "new" || late.Load() != 0 {
				t.Fatalf("request picked before the swap answered %q, %d reached the drained instance", body, late.Load())
			}
			if n := oldB.InFlight(); n != 0 {
				t.Fatalf("old instance left with %d in flight", n)
			}
			// The answer is flushed before the request leaves flight: wait for it.
			for deadline := time.Now().Add(5 * time.Second); sn.Snapshot().InFlight != 0 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			if sn.Snapshot().InFlight != 0 || sn.Snapshot().Requests != 1 || so.Snapshot().InFlight != 0 {
				t.Fatalf("stats in flight: old %d, new %d; new requests %d", so.Snapshot().InFlight, sn.Snapshot().InFlight, sn.Snapshot().Requests)
			}
		})
	}
}

// A request in flight at a swap is counted on its instance until it ends.
func TestInFlightCountedUntilAnswered(t *testing.T) {
	release := make(chan struct{})
	addr := backendFunc(t, func(w http.ResponseWriter) { <-release; io.WriteString(w, "slow") })
	p := New(slog.New(slog.DiscardHandler))
	url := serve(t, p)
	s := &Stats{}
	b := p.NewBackend("v1", addr, s)
	p.Swap(NewTable([]*Route{{Version: "v1", Weight: 100, Stats: s, Backends: []*Backend{b}}}, Sticky{}, ""))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for b.InFlight() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("request never counted in flight")
		}
		time.Sleep(time.Millisecond)
	}
	p.Swap(NewTable(nil, Sticky{}, ""))
	if b.InFlight() != 1 {
		t.Fatal("a swap dropped the count of a request in flight")
	}
	close(release)
	<-done
	for b.InFlight() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("in flight %d after the answer", b.InFlight())
		}
		time.Sleep(time.Millisecond)
	}
}

func backendFunc(t *testing.T, h func(w http.ResponseWriter)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { h(w) }))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}
