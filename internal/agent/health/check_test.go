package health

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestProbeHTTP(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(300 * time.Millisecond)
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	p := NewProber()
	ctx := context.Background()
	if err := p.Probe(ctx, Check{Path: "/healthz"}, addr); err != nil {
		t.Fatalf("healthy: %v", err)
	}
	status = http.StatusServiceUnavailable
	err := p.Probe(ctx, Check{Path: "/healthz"}, addr)
	if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "status 503, want 2xx") {
		t.Fatalf("503: %v", err)
	}
	if err := p.Probe(ctx, Check{Path: "/healthz", Status: 503}, addr); err != nil {
		t.Fatalf("expected 503: %v", err)
	}
	if err := p.Probe(ctx, Check{Path: "/slow", Status: 503, Timeout: 50 * time.Millisecond}, addr); !errors.Is(err, ErrFailed) {
		t.Fatalf("timeout: %v", err)
	}
}

func TestProbeTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	p := NewProber()
	if err := p.Probe(context.Background(), Check{}, addr); err != nil {
		t.Fatalf("listening: %v", err)
	}
	l.Close()
	if err := p.Probe(context.Background(), Check{}, addr); !errors.Is(err, ErrFailed) {
		t.Fatalf("closed: %v", err)
	}
}
