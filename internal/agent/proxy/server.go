package proxy

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"
)

// ErrAddrInUse marks a listen address another process holds.
var ErrAddrInUse = errors.New("address in use")

// Listener serves a Proxy on one address, HTTP/1.1 and h2c (HTTP/2 without
// TLS, by prior knowledge).
type Listener struct {
	srv *http.Server
	ln  net.Listener
}

// Listen binds addr and serves p in the background.
func Listen(addr string, p *Proxy, log *slog.Logger) (*Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%w: listen %s: another process holds this address; stop it or choose another listen address for the service", ErrAddrInUse, addr)
	}
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           p,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	go func() { _ = srv.Serve(ln) }()
	return &Listener{srv: srv, ln: ln}, nil
}

// Addr is the bound address (useful after listening on port 0).
func (l *Listener) Addr() string { return l.ln.Addr().String() }

// Close stops accepting and closes every connection.
func (l *Listener) Close() error { return l.srv.Close() }
