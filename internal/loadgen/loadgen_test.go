package loadgen

import (
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync/atomic"
	"testing"
	"time"
)

// versions answers as v1 and v2 in turn, v2 with a 500 every other time.
func versions(t *testing.T) string {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		if i%2 == 0 {
			w.Header().Set("X-Version", "v1")
			return
		}
		w.Header().Set("X-Version", "v2")
		if i%4 == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRate(t *testing.T) {
	for _, poisson := range []bool{false, true} {
		l := Start(versions(t), Options{Rate: 200, Poisson: poisson, Header: "X-Version"})
		time.Sleep(time.Second)
		got := l.Stop()
		if got.Sent < 120 || got.Sent > 280 {
			t.Errorf("poisson %v: %d requests in 1 s at 200/s", poisson, got.Sent)
		}
		v1, v2 := got.ByVersion["v1"], got.ByVersion["v2"]
		if v1.Total+v2.Total != got.Sent || v1.Failed != 0 || v2.Failed != int64(len(got.Failures)) || got.OK != got.Sent-v2.Failed || got.Unanswered != 0 {
			t.Errorf("poisson %v: tally %+v", poisson, got)
		}
		if int64(len(got.Latencies)) != got.Sent || got.Quantile(0.5) <= 0 || got.Quantile(0.5) > got.Quantile(0.99) {
			t.Errorf("poisson %v: %d latencies for %d answers, p50 %v, p99 %v", poisson, len(got.Latencies), got.Sent, got.Quantile(0.5), got.Quantile(0.99))
		}
		if bad, allowed := got.Except("v2"); len(bad) != 0 || allowed != len(got.Failures) {
			t.Errorf("poisson %v: failures beyond v2's own: %v", poisson, bad)
		}
	}
}

func TestWorkers(t *testing.T) {
	var inFlight, most atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(5 * time.Millisecond)
	}))
	defer srv.Close()
	l := Start(srv.URL, Options{Workers: 4})
	time.Sleep(200 * time.Millisecond)
	got := l.Stop()
	if got.OK == 0 || got.OK != got.Sent || most.Load() != 4 {
		t.Fatalf("tally %+v, at most %d at once; want 4 senders back to back", got, most.Load())
	}
}

func TestUnansweredAndCutOff(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	l := Start("http://"+addr+"/", Options{Rate: 100})
	deadline := time.Now().Add(5 * time.Second)
	for l.Tally().Unanswered == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := l.Stop()
	if got.Unanswered == 0 || got.Unanswered != got.Sent || len(got.Failures) != int(got.Sent) {
		t.Fatalf("tally %+v; want every request unanswered", got)
	}
	f := got.Failures[0]
	if f.Status != 0 || f.Err == "" || !regexp.MustCompile(`^- .*connection refused \(at \d+\.\d\ds\)$`).MatchString(f.String()) {
		t.Fatalf("failure %q", f)
	}
	if bad, _ := got.Except(""); len(bad) != len(got.Failures) {
		t.Fatal("an unanswered request counted as a version's own failure")
	}

	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer slow.Close()
	defer close(release)
	l = Start(slow.URL, Options{Rate: 100})
	time.Sleep(100 * time.Millisecond)
	if got := l.Stop(); got.Sent != 0 || len(got.Failures) != 0 {
		t.Fatalf("requests cut off by Stop were counted: %+v", got)
	}
}

func TestFailureString(t *testing.T) {
	if s := (Failure{At: 1234 * time.Millisecond, Version: "v3", Status: 502}).String(); s != "v3 502 (at 1.23s)" {
		t.Fatal(s)
	}
}

func TestQuantile(t *testing.T) {
	var tl Tally
	if tl.Quantile(0.5) != 0 {
		t.Fatal("no answers must give 0")
	}
	for i := 100; i >= 1; i-- { // out of order, as answers come back
		tl.Latencies = append(tl.Latencies, time.Duration(i)*time.Millisecond)
	}
	for q, want := range map[float64]time.Duration{0.01: time.Millisecond, 0.5: 50 * time.Millisecond, 0.99: 99 * time.Millisecond, 0.995: 100 * time.Millisecond, 1: 100 * time.Millisecond} {
		if got := tl.Quantile(q); got != want {
			t.Errorf("Quantile(%v) = %v, want %v", q, got, want)
		}
	}
	if tl.Latencies[0] != 100*time.Millisecond {
		t.Error("Quantile sorted the tally's own slice")
	}
}
