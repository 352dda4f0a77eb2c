package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/store"
)

const sinkKey = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// receiver is a webhook endpoint that verifies every signature and counts
// deliveries by idempotency key; hold, while set, keeps requests waiting.
type receiver struct {
	t    *testing.T
	mu   sync.Mutex
	seen map[string]int // idempotency key → successful deliveries
	bad  []string
	hold chan struct{}
	srv  *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t, seen: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		hold := r.hold
		r.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-req.Context().Done():
				return
			}
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := event.Verify(sinkKey, req.Header, body, time.Now(), 5*time.Minute); err != nil {
			r.bad = append(r.bad, err.Error())
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		r.seen[req.Header.Get("webhook-id")]++
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) keys() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.seen {
		out[k] = v
	}
	return out
}

// sinkServer is testServer with an events: block appended to belay.yaml;
// given a previous server, a new one on its store and belay.yaml (a restart).
func sinkServer(t *testing.T, prev *Server, events string) *Server {
	t.Helper()
	var s *Server
	if prev == nil {
		s, _ = testServer(t)
		b, err := os.ReadFile(s.d.ProjectFile)
		if err == nil {
			err = os.WriteFile(s.d.ProjectFile, append(b, []byte("\n"+events)...), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	} else {
		var err error
		if s, err = New(prev.d); err != nil {
			t.Fatal(err)
		}
	}
	s.d.Getenv = sinkEnv
	s.sinkPoll, s.sinkBackoff = 20*time.Millisecond, 20*time.Millisecond
	return s
}

func sinkEnv(name string) string {
	return map[string]string{"OPS_KEY": sinkKey, "GRAFANA_TOKEN": "glsa_test"}[name]
}

func serve(t *testing.T, s *Server) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	return func() { cancel(); <-done }
}

func appendEvents(t *testing.T, st store.Store, n int, from int) {
	for i := from; i < from+n; i++ {
		e := event.Event{ID: fmt.Sprintf("rollout/%d/seq/1", i), Event: event.DeploymentPromoted, Time: time.Now().UTC(),
			Service: "hello", Version: fmt.Sprintf("hello-%d", i), Environment: "production"}
		b, _ := json.Marshal(e)
		if _, err := st.AppendEvent(t.Context(), b, e.Time); err != nil {
			t.Fatal(err)
		}
	}
}

func waitFor(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSinkFailingEndpointsBounded: a webhook that answers 500 forever and
// one that never answers are retried a bounded number of times and given
// up with their error recorded, while the healthy webhook, the CDEvents
// receiver and Grafana get every event in time.
func TestSinkFailingEndpointsBounded(t *testing.T) {
	good := newReceiver(t)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 500) }))
	defer down.Close()
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		<-r.Context().Done()
	}))
	defer hang.Close()
	var mu sync.Mutex
	var cd, marks int
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path == "/api/annotations" {
			marks++
		} else {
			cd++
		}
	}))
	defer other.Close()
	s := sinkServer(t, nil, fmt.Sprintf(`events:
  webhooks:
    - {name: ops, url: %q, secret_env: OPS_KEY}
    - {name: down, url: %q, secret_env: OPS_KEY, give_up_after: 300ms}
    - {name: hang, url: %q, secret_env: OPS_KEY, give_up_after: 300ms, timeout: 100ms}
  cdevents:
    - {name: cd, url: %q}
  grafana:
    - {name: grafana, url: %q, token_env: GRAFANA_TOKEN}
`, good.srv.URL, down.URL, hang.URL, other.URL+"/cdevents", other.URL))
	st := s.d.Store
	stop := serve(t, s)
	defer stop()
	time.Sleep(200 * time.Millisecond) // every sink has its cursor, after the last event (none)
	appendEvents(t, st, 3, 1)
	start := time.Now()
	waitFor(t, "the healthy sinks", 2*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(good.keys()) == 3 && cd == 3 && marks == 3
	})
	if d := time.Since(start); d > time.Second {
		t.Errorf("healthy sinks took %s: held up by the failing ones", d)
	}
	for _, sink := range []string{"down", "hang"} {
		waitFor(t, sink+" to give up", 20*time.Second, func() bool {
			ds, _ := st.Deliveries(t.Context(), sink, store.DeliveryFailed)
			return len(ds) == 3
		})
		ds, _ := st.Deliveries(t.Context(), sink, "")
		for _, d := range ds {
			want := map[string]string{"down": "500 Internal Server Error: down", "hang": "no answer within 100ms"}[sink]
			if d.State != store.DeliveryFailed || d.Attempts < event.DefaultRetry.MinAttempts || d.Attempts > 10 || !strings.Contains(d.LastError, want) {
				t.Errorf("%s: %+v; want failed after a few attempts with %q", sink, d, want)
			}
		}
	}
	if len(good.bad) > 0 {
		t.Errorf("signatures did not verify: %v", good.bad)
	}
}

// TestSinkResumesAfterHardStop: a server stopped while a delivery is in
// flight and events are pending; a new server on the same store delivers
// every event, each idempotency key at most twice (the one in flight) and
// every other once, all signatures verifying.
func TestSinkResumesAfterHardStop(t *testing.T) {
	rcv := newReceiver(t)
	events := fmt.Sprintf("events:\n  webhooks:\n    - {name: ops, url: %q, secret_env: OPS_KEY}\n", rcv.srv.URL)
	s := sinkServer(t, nil, events)
	st := s.d.Store
	stop := serve(t, s)
	time.Sleep(200 * time.Millisecond) // the sink has its cursor
	appendEvents(t, st, 5, 1)
	waitFor(t, "the first deliveries", 5*time.Second, func() bool { return len(rcv.keys()) >= 2 })
	rcv.mu.Lock()
	rcv.hold = make(chan struct{}) // the next delivery hangs …
	rcv.mu.Unlock()
	appendEvents(t, st, 20, 6)
	time.Sleep(200 * time.Millisecond)
	stop() // … and the server stops under it
	rcv.mu.Lock()
	close(rcv.hold)
	rcv.hold = nil
	rcv.mu.Unlock()
	before := len(rcv.keys())
	if before >= 25 {
		t.Fatalf("all %d events delivered before the stop: nothing was pending", before)
	}
	s2 := sinkServer(t, s, "")
	stop2 := serve(t, s2)
	defer stop2()
	waitFor(t, "every event after the restart", 30*time.Second, func() bool { return len(rcv.keys()) == 25 })
	dups := 0
	for k, n := range rcv.keys() {
		if n > 1 {
			dups += n - 1
			t.Logf("%s delivered %d times", k, n)
		}
	}
	if dups > 1 {
		t.Errorf("%d duplicate deliveries; at most the one in flight may repeat", dups)
	}
	if len(rcv.bad) > 0 {
		t.Errorf("signatures did not verify: %v", rcv.bad)
	}
	// The receiver counts a delivery before the server records it.
	var ds []store.Delivery
	waitFor(t, "25 deliveries recorded", 10*time.Second, func() bool {
		ds, _ = st.Deliveries(t.Context(), "ops", store.DeliveryDelivered)
		return len(ds) >= 25
	})
	if len(ds) != 25 {
		t.Errorf("%d deliveries recorded, want 25", len(ds))
	}
}

// TestSinkOneDelivererOfSeveral: two servers on one store run the same
// sinks; the sink's lease lets one deliver, so every event arrives exactly
// once; when that server stops, the other takes the sink over and delivers
// what follows, again once.
func TestSinkOneDelivererOfSeveral(t *testing.T) {
	rcv := newReceiver(t)
	events := fmt.Sprintf("events:\n  webhooks:\n    - {name: ops, url: %q, secret_env: OPS_KEY}\n", rcv.srv.URL)
	a := sinkServer(t, nil, events)
	a.d.Holder = "host-a:/srv/a"
	b := sinkServer(t, a, "")
	b.d.Holder = "host-b:/srv/b"
	st := a.d.Store
	stopA, stopB := serve(t, a), serve(t, b)
	defer func() { stopB() }()         // the one left running, after the swap below
	time.Sleep(200 * time.Millisecond) // the sink has its cursor
	appendEvents(t, st, 30, 1)
	waitFor(t, "30 deliveries", 10*time.Second, func() bool { return len(rcv.keys()) == 30 })
	l, _, err := st.AcquireLease(t.Context(), "sink:ops", "probe", time.Second, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	first := a
	if l.Holder == b.d.Holder {
		first, stopA, stopB = b, stopB, stopA
	} else if l.Holder != a.d.Holder {
		t.Fatalf("lease sink:ops held by %q, neither server (%q, %q)", l.Holder, a.d.Holder, b.d.Holder)
	}
	stopA() // the deliverer stops and gives the lease up
	appendEvents(t, st, 10, 31)
	waitFor(t, "10 more deliveries by the other server", 10*time.Second, func() bool { return len(rcv.keys()) == 40 })
	l2, _, err := st.AcquireLease(t.Context(), "sink:ops", "probe", time.Second, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if l2.Holder == first.d.Holder || l2.Epoch != l.Epoch+1 {
		t.Errorf("after the stop the lease is %+v; want the other server's, epoch %d", l2, l.Epoch+1)
	}
	for k, n := range rcv.keys() {
		if n != 1 {
			t.Errorf("%s delivered %d times, want once", k, n)
		}
	}
	if len(rcv.bad) > 0 {
		t.Errorf("signatures did not verify: %v", rcv.bad)
	}
}
