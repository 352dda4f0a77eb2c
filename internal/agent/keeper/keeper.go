// Package keeper keeps the agent's listening sockets open across agent
// crashes and upgrades: a small parent process holds every listener and
// hands children duplicates of them, so the kernel keeps queueing
// connections while a child restarts and no connection is refused.
//
// The parent runs a Supervisor, which starts the child and restarts it; the
// child asks for its sockets through a Client. The package imports nothing
// of belay's agent on purpose: the keeper must stay simple enough not to
// crash itself.
package keeper

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// EnvFD names the environment variable that tells a child which fd is its
// keeper connection.
const EnvFD = "BELAY_KEEPER_FD"

// ErrClosed is returned for a request to a Keeper that has been closed.
var ErrClosed = errors.New("keeper: closed")

// Keeper holds listening sockets for children. Safe for concurrent use.
type Keeper struct {
	log *slog.Logger

	mu     sync.Mutex
	held   map[string]*held // by key(network, addr), under every address it answers to
	closed bool
}

// held is one listener and the keys it is held under.
type held struct {
	ln   net.Listener
	keys []string
}

// New returns an empty Keeper; log may be nil.
func New(log *slog.Logger) *Keeper {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Keeper{log: log, held: map[string]*held{}}
}

// Close closes every held listener; a unix socket file the keeper created
// is removed. Children keep their own duplicates.
func (k *Keeper) Close() error {
	k.mu.Lock()
	lns := k.all()
	k.held = map[string]*held{}
	k.closed = true
	k.mu.Unlock()
	var errs []error
	for _, ln := range lns {
		errs = append(errs, ln.Close())
	}
	return errors.Join(errs...)
}

// all lists each held listener once; k.mu is held.
func (k *Keeper) all() []net.Listener {
	seen := map[*held]bool{}
	var lns []net.Listener
	for _, h := range k.held {
		if !seen[h] {
			seen[h] = true
			lns = append(lns, h.ln)
		}
	}
	return lns
}

func key(network, addr string) string { return network + " " + addr }

// listen returns the listener held for network and addr, binding it the
// first time. A TCP listener is also held under its bound address, so a
// child that asks again by that address gets the same socket. A request for
// port 0 always binds a fresh port: two services that both ask for
// "127.0.0.1:0" must not share one socket.
func (k *Keeper) listen(network, addr string) (net.Listener, error) {
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return nil, fmt.Errorf("listen %s %s: network must be tcp or unix", network, addr)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, ErrClosed
	}
	if h := k.held[key(network, addr)]; h != nil {
		return h.ln, nil
	}
	ln, err := bind(network, addr)
	if err != nil {
		return nil, err
	}
	h := &held{ln: ln}
	for _, a := range []string{addr, ln.Addr().String()} {
		kk := key(network, a)
		if k.held[kk] == nil && !(a == addr && ephemeral(network, addr)) {
			k.held[kk] = h
			h.keys = append(h.keys, kk)
		}
	}
	k.log.Info("keeper: listening", "network", network, "addr", ln.Addr().String())
	return ln, nil
}

// ephemeral reports whether addr asks the kernel to pick a TCP port.
func ephemeral(network, addr string) bool {
	if network == "unix" {
		return false
	}
	_, port, err := net.SplitHostPort(addr)
	return err == nil && (port == "" || port == "0")
}

// bind is net.Listen, except that a unix socket file left behind by a
// killed process (nothing answers on it) is replaced rather than an error.
func bind(network, addr string) (net.Listener, error) {
	ln, err := net.Listen(network, addr)
	if err == nil || network != "unix" || !errors.Is(err, syscall.EADDRINUSE) {
		return ln, err
	}
	if fi, serr := os.Lstat(addr); serr != nil || fi.Mode().Type() != fs.ModeSocket {
		return nil, err
	}
	if c, derr := net.DialTimeout("unix", addr, 200*time.Millisecond); derr == nil {
		c.Close()
		return nil, fmt.Errorf("%w: another process is listening there", err)
	}
	_ = os.Remove(addr)
	return net.Listen(network, addr)
}

// release closes the listener held for network and addr under all its
// keys. Releasing an address that is not held is no error.
func (k *Keeper) release(network, addr string) error {
	k.mu.Lock()
	h := k.held[key(network, addr)]
	if h != nil {
		for _, kk := range h.keys {
			delete(k.held, kk)
		}
	}
	k.mu.Unlock()
	if h == nil {
		return nil
	}
	k.log.Info("keeper: released", "network", network, "addr", h.ln.Addr().String())
	return h.ln.Close()
}

// pair makes the connection for one child. The keeper serves its own end in
// a goroutine until the child's end is closed everywhere (the child has
// exited); the child's end is returned for exec.Cmd.ExtraFiles and must be
// closed by the caller once the child has started. ready is called when
// the child reports Ready; it may be nil.
func (k *Keeper) pair(ready func()) (*os.File, error) {
	// CLOEXEC so that no other child started meanwhile inherits this pair.
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socketpair", err)
	}
	mine := os.NewFile(uintptr(fds[0]), "keeper")
	c, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		_ = syscall.Close(fds[1])
		return nil, err
	}
	go k.serve(c.(*net.UnixConn), ready)
	return os.NewFile(uintptr(fds[1]), "keeper-child"), nil
}

// serve answers one child's requests in order until the child goes away.
func (k *Keeper) serve(c *net.UnixConn, ready func()) {
	defer c.Close()
	for {
		var req request
		fds, err := readMessage(c, &req)
		closeFDs(fds) // a child has no business sending fds
		if errors.Is(err, io.EOF) {
			return
		}
		if err == nil {
			err = k.answer(c, req, ready)
		}
		if err != nil {
			k.log.Warn("keeper: child connection", "err", err)
			return
		}
	}
}

func (k *Keeper) answer(c *net.UnixConn, req request, ready func()) error {
	switch req.Op {
	case opListen:
		ln, err := k.listen(req.Network, req.Addr)
		if err != nil {
			return writeMessage(c, failure(err), -1)
		}
		return sendListener(c, ln)
	case opRelease:
		return writeMessage(c, failure(k.release(req.Network, req.Addr)), -1)
	case opReady:
		if ready != nil {
			ready()
		}
		return writeMessage(c, answer{}, -1)
	}
	return writeMessage(c, failure(fmt.Errorf("unknown request %q", req.Op)), -1)
}

// sendListener passes ln's fd to the child. Control lends the fd without
// touching its flags, where File or Fd would switch the socket, which every
// child shares, to blocking mode. The kernel duplicates the fd into the
// child as the message is sent.
func sendListener(c *net.UnixConn, ln net.Listener) error {
	sc, err := ln.(syscall.Conn).SyscallConn()
	if err != nil {
		return writeMessage(c, failure(err), -1)
	}
	a := answer{Addr: ln.Addr().String()}
	var werr error
	if cerr := sc.Control(func(fd uintptr) { werr = writeMessage(c, a, int(fd)) }); cerr != nil {
		// Released by another child between listen and now.
		return writeMessage(c, failure(cerr), -1)
	}
	return werr
}
