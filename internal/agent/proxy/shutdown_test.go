package proxy

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/loadgen"
)

// A hand-over as the agent's keeper does it: a second proxy serves a copy
// of the same listening socket, then the first shuts down. Keep-alive
// clients under load must see no failure: every connection the first
// served ends after a complete answer, and new ones reach the second.
func TestShutdownHandsOverWithoutFailures(t *testing.T) {
	up := backend(t, "v1")
	log := slog.New(slog.DiscardHandler)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File() // a dup, as the keeper passes it
	if err != nil {
		t.Fatal(err)
	}
	ln2, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	mk := func(ln net.Listener) *Listener {
		p := New(log)
		s := &Stats{}
		p.Swap(NewTable([]*Route{{Version: "v1", Weight: 100, Stats: s, Backends: []*Backend{p.NewBackend("v1", up, s)}}}, Sticky{}, "X-V"))
		return Serve(ln, p, log)
	}
	old := mk(ln)
	load := loadgen.Start("http://"+ln.Addr().String()+"/", loadgen.Options{Workers: 8, Header: "X-V"})
	time.Sleep(300 * time.Millisecond)
	next := mk(ln2)
	defer next.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := old.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := old.active(); n != 0 {
		t.Fatalf("%d connections left after Shutdown", n)
	}
	time.Sleep(300 * time.Millisecond)
	tally := load.Stop()
	if tally.Sent < 100 || tally.OK != tally.Sent || len(tally.Failures) > 0 {
		t.Fatalf("sent %d, ok %d, failures %v", tally.Sent, tally.OK, tally.Failures)
	}
	t.Logf("%d requests across the hand-over, none failed", tally.Sent)
}
