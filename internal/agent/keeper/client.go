package keeper

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
)

// Client is the child's side of the keeper connection. Safe for concurrent
// use: requests are sent and answered one at a time.
type Client struct {
	mu   sync.Mutex
	conn *net.UnixConn
}

// FromEnv returns the client for the keeper connection named by EnvFD, or
// (nil, nil) when the variable is unset: there is no keeper, and the caller
// binds its sockets itself. The variable is removed from the environment
// and the fd is closed (its duplicate is close-on-exec), so processes the
// child starts inherit neither; a second call therefore returns (nil, nil).
func FromEnv() (*Client, error) {
	v, ok := os.LookupEnv(EnvFD)
	if !ok {
		return nil, nil
	}
	_ = os.Unsetenv(EnvFD)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 0 {
		return nil, fmt.Errorf("%s=%q is not a file descriptor number; unset it unless a keeper started this process", EnvFD, v)
	}
	// Close-on-exec at once, in case another goroutine starts a process
	// before the fd is closed below.
	syscall.CloseOnExec(fd)
	c, err := clientFromFile(os.NewFile(uintptr(fd), "keeper"))
	if err != nil {
		return nil, fmt.Errorf("%s=%d: %w", EnvFD, fd, err)
	}
	return c, nil
}

// clientFromFile makes a Client of a keeper connection and closes f (the
// Client holds a close-on-exec duplicate).
func clientFromFile(f *os.File) (*Client, error) {
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("keeper connection: %w", err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("keeper connection: a %s socket, not a unix one", c.LocalAddr().Network())
	}
	return &Client{conn: uc}, nil
}

// Listen returns a listener for network ("tcp" or "unix") and addr. The
// keeper binds it the first time and keeps it; later calls, by this child
// or a later one, get a duplicate of the same socket. A TCP address with
// port 0 binds a fresh port each time; ask again by the bound address
// (ln.Addr()) to get that socket back. An error from the keeper's bind
// carries its text and unwraps to its errno (syscall.EADDRINUSE).
func (c *Client) Listen(network, addr string) (net.Listener, error) {
	a, fd, err := c.call(request{Op: opListen, Network: network, Addr: addr})
	if err != nil {
		return nil, err
	}
	if fd < 0 {
		return nil, fmt.Errorf("keeper: listen %s %s: the answer carried no socket", network, addr)
	}
	// The fd is non-blocking already (the keeper's socket is), so NewFile
	// leaves it so and FileListener's duplicate does not flip the mode
	// that the keeper and other children share.
	f := os.NewFile(uintptr(fd), network+":"+a.Addr)
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("keeper: listen %s %s: %w", network, addr, err)
	}
	return ln, nil
}

// Release tells the keeper to close its copy of the listener for network
// and addr, for a service removed for good; a unix socket file is removed.
// Listeners this child holds stay open until it closes them.
func (c *Client) Release(network, addr string) error {
	_, _, err := c.call(request{Op: opRelease, Network: network, Addr: addr})
	return err
}

// Ready tells the supervisor that this child is serving. During an upgrade
// the old child is told to drain only after this.
func (c *Client) Ready() error {
	_, _, err := c.call(request{Op: opReady})
	return err
}

// Close closes the connection. The keeper keeps every listener.
func (c *Client) Close() error {
	return c.conn.Close()
}

// call sends req and reads its answer; fd is -1 unless a socket came with
// it, and the caller then owns it.
func (c *Client) call(req request) (answer, int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var a answer
	if err := writeMessage(c.conn, req, -1); err != nil {
		return a, -1, fmt.Errorf("keeper: %s %s %s: %w", req.Op, req.Network, req.Addr, err)
	}
	fds, err := readMessage(c.conn, &a)
	if err != nil {
		return a, -1, fmt.Errorf("keeper: %s %s %s: no answer: %w", req.Op, req.Network, req.Addr, err)
	}
	if a.Err != "" {
		closeFDs(fds)
		return a, -1, &keeperError{msg: a.Err, errno: syscall.Errno(a.Errno)}
	}
	if len(fds) == 0 {
		return a, -1, nil
	}
	closeFDs(fds[1:])
	return a, fds[0], nil
}
