package keeper

import (
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// connect returns a Client talking to k over a real socket pair, as a child
// would after FromEnv.
func connect(t *testing.T, k *Keeper, ready func()) *Client {
	t.Helper()
	f, err := k.pair(ready)
	if err != nil {
		t.Fatal(err)
	}
	c, err := clientFromFile(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// serveOn answers "ok" on ln until ln is closed.
func serveOn(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})}
	go func() { _ = srv.Serve(ln) }()
}

func get(t *testing.T, addr string) error {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "ok" {
		t.Fatalf("GET %s: %q", addr, b)
	}
	return nil
}

func TestListenTwiceSharesOneSocketAndReleaseClosesIt(t *testing.T) {
	k := New(testLog(t))
	defer k.Close()
	c := connect(t, k, nil)
	ln1, err := c.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln1.Addr().String()
	ln2, err := c.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if got := ln2.Addr().String(); got != addr {
		t.Fatalf("second Listen: %s, want %s", got, addr)
	}
	// The socket's mode is shared by the keeper and every child: handing
	// it out must leave it non-blocking.
	held, err := k.listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	for _, ln := range []net.Listener{held, ln1, ln2} {
		if !nonblocking(t, ln) {
			t.Fatalf("%s: the socket became blocking", ln.Addr())
		}
	}
	serveOn(ln1)
	if err := get(t, addr); err != nil {
		t.Fatalf("through the first listener: %v", err)
	}
	ln1.Close()
	serveOn(ln2) // the same socket: the keeper's copy kept it open
	if err := get(t, addr); err != nil {
		t.Fatalf("through the second listener: %v", err)
	}
	if err := c.Release("tcp", addr); err != nil {
		t.Fatal(err)
	}
	ln2.Close()
	if err := get(t, addr); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("after Release and closing the child's listeners: %v, want connection refused", err)
	}
	ln3, err := c.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("Listen after Release binds anew: %v", err)
	}
	ln3.Close()
}

func TestListenPortZeroBindsAFreshPortEachTime(t *testing.T) {
	k := New(testLog(t))
	defer k.Close()
	c := connect(t, k, nil)
	a, err := c.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := c.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.Addr().String() == b.Addr().String() {
		t.Fatalf("two requests for port 0 share %s", a.Addr())
	}
}

func TestListenErrorCarriesTheKeepersText(t *testing.T) {
	k := New(testLog(t))
	defer k.Close()
	c := connect(t, k, nil)
	other, err := net.Listen("tcp", "127.0.0.1:0") // not the keeper's
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, err = c.Listen("tcp", other.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Listen on a taken address: %v", err)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("errors.Is(%v, EADDRINUSE) is false", err)
	}
	if _, err := c.Listen("udp", "127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "tcp or unix") {
		t.Fatalf("Listen udp: %v", err)
	}
	k.Close()
	if _, err := c.Listen("tcp", "127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Listen after Close: %v", err)
	}
}

func TestClientIsSafeForConcurrentUse(t *testing.T) {
	k := New(testLog(t))
	defer k.Close()
	c := connect(t, k, nil)
	first, err := c.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	addr := first.Addr().String()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			ln, err := c.Listen("tcp", addr)
			if err == nil && ln.Addr().String() != addr {
				err = errors.New("wrong address " + ln.Addr().String())
			}
			if ln != nil {
				ln.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestReadyCallsBack(t *testing.T) {
	k := New(testLog(t))
	defer k.Close()
	ready := make(chan struct{}, 1)
	c := connect(t, k, func() { ready <- struct{}{} })
	if err := c.Ready(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ready:
	default:
		t.Fatal("Ready returned before the keeper saw it")
	}
}

func TestUnixSocketFileComesAndGoes(t *testing.T) {
	dir := t.TempDir()
	k := New(testLog(t))
	defer k.Close()
	c := connect(t, k, nil)
	path := filepath.Join(dir, "api.sock")
	ln, err := c.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	mustBeSocket(t, path)
	ln.Close() // the child's copy closing leaves the file: the keeper holds it
	mustBeSocket(t, path)
	if err := c.Release("unix", path); err != nil {
		t.Fatal(err)
	}
	mustBeGone(t, path)

	ln, err = c.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	mustBeSocket(t, path)
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	mustBeGone(t, path)
}

func TestUnixListenReplacesAStaleSocketFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.sock")
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close() // as a kill -9 leaves it: a socket file nobody answers on
	k := New(testLog(t))
	defer k.Close()
	c := connect(t, k, nil)
	ln, err := c.Listen("unix", path)
	if err != nil {
		t.Fatalf("Listen over a stale socket file: %v", err)
	}
	defer ln.Close()

	other := connect(t, New(testLog(t)), nil) // a second keeper finds it in use
	if _, err := other.Listen("unix", path); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Listen on a live socket file: %v, want address in use", err)
	}
}

func nonblocking(t *testing.T, ln net.Listener) bool {
	t.Helper()
	sc, err := ln.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var flags int
	if cerr := sc.Control(func(fd uintptr) { flags, err = fcntl(int(fd), syscall.F_GETFL) }); cerr != nil || err != nil {
		t.Fatal(cerr, err)
	}
	return flags&syscall.O_NONBLOCK != 0
}

func mustBeSocket(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Type() != fs.ModeSocket {
		t.Fatalf("%s: want a socket file, got %v, %v", path, fi, err)
	}
}

func mustBeGone(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s still exists (%v)", path, err)
	}
}
