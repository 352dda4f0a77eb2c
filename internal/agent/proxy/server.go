package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrAddrInUse marks a listen address another process holds.
var ErrAddrInUse = errors.New("address in use")

// Listener serves a Proxy on one address: plain HTTP/1.1 GET and HEAD
// through the front, everything else (including h2c by prior knowledge and
// WebSockets) through net/http.
type Listener struct {
	srv    *http.Server
	ln     net.Listener
	hand   *handoffListener
	mu     sync.Mutex
	conns  map[net.Conn]struct{} // connections the front is serving
	closed bool
	// draining asks the front to end each connection after its current
	// request (Shutdown), so clients reconnect to whoever accepts next.
	draining atomic.Bool
}

// Listen binds addr and serves p in the background.
func Listen(addr string, p *Proxy, log *slog.Logger) (*Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, ListenError(addr, err)
	}
	return Serve(ln, p, log), nil
}

// ListenError explains a failure to bind addr.
func ListenError(addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) { // the keeper's errors carry their errno too
		return fmt.Errorf("%w: listen %s: another process holds this address; stop it or choose another listen address for the service", ErrAddrInUse, addr)
	}
	return fmt.Errorf("listen %s: %w", addr, err)
}

// Serve serves p on ln in the background. ln may be a socket another
// process opened and passed on (the agent's keeper), so closing it here
// only closes this process's copy.
func Serve(ln net.Listener, p *Proxy, log *slog.Logger) *Listener {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	l := &Listener{ln: ln, hand: &handoffListener{addr: ln.Addr(), conns: make(chan net.Conn), done: make(chan struct{})}, conns: map[net.Conn]struct{}{}}
	l.srv = &http.Server{
		Handler:           p,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	go func() { _ = l.srv.Serve(l.hand) }()
	go l.accept(p)
	return l
}

func (l *Listener) accept(p *Proxy) {
	var delay time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second) // e.g. out of file descriptors
			time.Sleep(delay)
			continue
		}
		delay = 0
		if !l.track(c, true) {
			c.Close()
			return
		}
		go func() {
			p.serveConn(c, l.hand.deliver, &l.draining)
			l.track(c, false)
		}()
	}
}

func (l *Listener) track(c net.Conn, add bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if add {
		if l.closed {
			return false
		}
		l.conns[c] = struct{}{}
	} else {
		delete(l.conns, c)
	}
	return true
}

// Addr is the bound address (useful after listening on port 0).
func (l *Listener) Addr() string { return l.ln.Addr().String() }

// Close stops accepting and closes every connection.
func (l *Listener) Close() error {
	err := l.ln.Close()
	l.mu.Lock()
	l.closed = true
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	_ = l.srv.Close()
	l.hand.close()
	return err
}

// Shutdown stops accepting and lets every connection finish: each carries
// one more request at most, answered with "Connection: close", so that the
// client's next request opens a connection to whoever accepts next (the
// successor serving the same socket). Connections still idle after
// drainIdle are closed; past ctx's deadline, every one left is. net/http's
// connections shut down the same way. Closing an idle connection races with
// a request the client is just sending on it, so it is done last, for the
// few that stayed idle all along.
func (l *Listener) Shutdown(ctx context.Context) error {
	l.draining.Store(true)
	err := l.ln.Close()
	done := make(chan struct{})
	go func() {
		_ = l.srv.Shutdown(ctx)
		close(done)
	}()
	idleUntil := time.Now().Add(drainIdle)
	for ctx.Err() == nil && l.active() > 0 {
		if time.Now().After(idleUntil) {
			l.wakeIdle()
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = l.Close()
	<-done
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// drainIdle is how long Shutdown waits for an idle connection's next
// request before closing it.
const drainIdle = time.Second

// wakeIdle interrupts fronts waiting for a request; a front that has just
// set its own deadline is woken at the next call.
func (l *Listener) wakeIdle() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		_ = c.SetReadDeadline(time.Now())
	}
}

func (l *Listener) active() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// handoffListener feeds net/http the connections the front handed over.
type handoffListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (h *handoffListener) deliver(c net.Conn) {
	select {
	case h.conns <- c:
	case <-h.done:
		c.Close()
	}
}

func (h *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-h.conns:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handoffListener) close()         { h.once.Do(func() { close(h.done) }) }
func (h *handoffListener) Close() error   { h.close(); return nil }
func (h *handoffListener) Addr() net.Addr { return h.addr }
