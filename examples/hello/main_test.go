package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

func TestErrorRateAndHealth(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	srv := httptest.NewServer(handler(config{version: "v1", errorRate: 1}, &healthy))
	defer srv.Close()
	if r, _ := http.Get(srv.URL + "/"); r.StatusCode != 500 {
		t.Fatalf("error rate 1: got %d", r.StatusCode)
	}
	if r, _ := http.Get(srv.URL + "/healthz"); r.StatusCode != 200 {
		t.Fatalf("healthz: got %d", r.StatusCode)
	}
	_, _ = http.Post(srv.URL+"/admin/health?status=fail", "", nil)
	if r, _ := http.Get(srv.URL + "/healthz"); r.StatusCode != 503 {
		t.Fatalf("healthz after fail: got %d", r.StatusCode)
	}
}

func TestBugShowsAfterItsThreshold(t *testing.T) {
	bugErrorRate, bugAfter = 1, 3
	defer func() { bugErrorRate, bugAfter = 0, 0 }()
	var healthy atomic.Bool
	srv := httptest.NewServer(handler(config{version: "v3"}, &healthy))
	defer srv.Close()
	for i := 1; i <= 5; i++ {
		r, err := http.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 200, false: 500}[i <= 3]; r.StatusCode != want {
			t.Fatalf("request %d: got %d, want %d", i, r.StatusCode, want)
		}
	}
}

func TestBugShowsWhileItsFileExists(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "fail")
	bugErrorRate, bugFile = 1, flag
	defer func() { bugErrorRate, bugFile = 0, "" }()
	var healthy atomic.Bool
	srv := httptest.NewServer(handler(config{version: "v2"}, &healthy))
	defer srv.Close()
	status := func() int {
		r, err := http.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if got := status(); got != 200 {
		t.Fatalf("before the file: %d", got)
	}
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := status(); got != 500 {
		t.Fatalf("with the file: %d", got)
	}
}

func TestMetricsReportQueueDepth(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	srv := httptest.NewServer(handler(config{version: "v1", queueDepth: 5000}, &healthy))
	defer srv.Close()
	if _, err := http.Get(srv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{"# TYPE hello_queue_depth gauge\nhello_queue_depth 5000\n", "hello_requests_total 1\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, b)
		}
	}
}
