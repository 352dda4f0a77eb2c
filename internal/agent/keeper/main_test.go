package keeper

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary is also the child: with envMode set it runs a tiny agent
// instead of the tests.
const (
	envMode   = "KEEPER_TEST_CHILD"  // "serve" or "exit"
	envAddr   = "KEEPER_TEST_ADDR"   // the TCP address a serving child listens on
	envFail   = "KEEPER_TEST_FAIL"   // a path: while it exists, a serving child exits 1 before Ready
	envStarts = "KEEPER_TEST_STARTS" // a path: every child appends a line when it starts
	envSlow   = "KEEPER_TEST_SLOW"   // a path: while it exists, a serving child serves a second before Ready
	envPID    = "KEEPER_TEST_PID"    // the keeper process's ChildPIDFile
	envSignal = "KEEPER_TEST_SIGNAL" // a path: a serving child writes the signal that stopped it
)

func TestMain(m *testing.M) {
	switch os.Getenv(envMode) {
	case "":
		os.Exit(m.Run())
	case "serve":
		os.Exit(serveChild())
	case "exit":
		noteStart()
		os.Exit(0)
	case "stubborn":
		os.Exit(stubbornChild())
	case "keeper":
		os.Exit(keeperProcess())
	default:
		fmt.Fprintf(os.Stderr, "child: unknown %s\n", envMode)
		os.Exit(2)
	}
}

// serveChild answers every request with its pid and the value of EnvFD it
// sees, and behaves as the agent does on SIGUSR1 (drain, exit 0) and
// SIGTERM (exit 0).
func serveChild() int {
	noteStart()
	c, err := FromEnv()
	if c == nil {
		fmt.Fprintln(os.Stderr, "child: no keeper:", err)
		return 2
	}
	ln, err := c.Listen("tcp", os.Getenv(envAddr))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	if _, err := os.Stat(os.Getenv(envFail)); err == nil {
		return 1
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGTERM)
	var conns sync.WaitGroup
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%d\n%s\n", os.Getpid(), os.Getenv(EnvFD))
		}),
		ConnState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				conns.Add(1)
			case http.StateClosed, http.StateHijacked:
				conns.Done()
			}
		},
	}
	served := make(chan struct{})
	go func() {
		_ = srv.Serve(ln)
		close(served)
	}()
	if _, err := os.Stat(os.Getenv(envSlow)); err == nil {
		time.Sleep(time.Second)
	}
	if err := c.Ready(); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	sig := <-sigs
	if p := os.Getenv(envSignal); p != "" {
		_ = os.WriteFile(p, []byte(sig.String()), 0o644)
	}
	if sig == syscall.SIGUSR1 {
		drain(srv, ln, served, &conns)
	}
	return 0
}

// drain stops accepting and waits for every accepted connection to finish.
// Not http.Server.Shutdown: it drops a request that it reads after the
// shutdown began, even on a connection accepted before, and under an
// upgrade that is a failed request.
func drain(srv *http.Server, ln net.Listener, served <-chan struct{}, conns *sync.WaitGroup) {
	srv.SetKeepAlivesEnabled(false)
	ln.Close() // the keeper and the new child keep the socket open
	<-served   // Serve has counted every connection it accepted
	idle := make(chan struct{})
	go func() {
		conns.Wait()
		close(idle)
	}()
	select {
	case <-idle:
	case <-time.After(10 * time.Second):
	}
}

// stubbornChild says hello on stdout and ignores SIGTERM, as a hung agent
// would; it gives up by itself after a while in case nobody kills it.
func stubbornChild() int {
	signal.Ignore(syscall.SIGTERM)
	c, err := FromEnv()
	if c == nil {
		fmt.Fprintln(os.Stderr, "child: no keeper:", err)
		return 2
	}
	fmt.Println("stubborn child here")
	if err := c.Ready(); err != nil {
		return 2
	}
	time.Sleep(60 * time.Second)
	return 0
}

// keeperProcess is a keeper in a process of its own, serving children in
// "serve" mode, for the test that kills it.
func keeperProcess() int {
	s := &Supervisor{
		Env:          []string{envMode + "=serve"},
		Stdout:       os.Stderr,
		Stderr:       os.Stderr,
		ChildPIDFile: os.Getenv(envPID),
	}
	if err := s.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "keeper:", err)
		return 1
	}
	return 0
}

func noteStart() {
	p := os.Getenv(envStarts)
	if p == "" {
		return
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err == nil {
		fmt.Fprintln(f, os.Getpid())
		f.Close()
	}
}

// testLog collects a test's log and shows it only if the test fails; a late
// write from a background goroutine after the test is harmless.
func testLog(t *testing.T) *slog.Logger {
	var mu sync.Mutex
	var buf bytes.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			mu.Lock()
			t.Log("log:\n" + buf.String())
			mu.Unlock()
		}
	})
	return slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
