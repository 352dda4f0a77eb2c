package fleet_test

import (
	"io"
	"net"
	"sync"
	"testing"
)

// relay forwards TCP connections to an address until cut: then it closes
// every connection and refuses new ones, as a host gone from the network
// looks to the fleet (the netns test in cmd/belay cuts a real link).
type relay struct {
	l     net.Listener
	to    string
	mu    sync.Mutex
	down  bool
	conns []net.Conn
}

func newRelay(t *testing.T, to string) *relay {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{l: l, to: to}
	t.Cleanup(func() { l.Close(); r.cut() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			down := r.down
			if !down {
				r.conns = append(r.conns, c)
			}
			r.mu.Unlock()
			if down {
				c.Close()
				continue
			}
			go func() {
				u, err := net.Dial("tcp", to)
				if err != nil {
					c.Close()
					return
				}
				r.mu.Lock()
				r.conns = append(r.conns, u)
				r.mu.Unlock()
				go func() { _, _ = io.Copy(u, c); u.Close() }()
				_, _ = io.Copy(c, u)
				c.Close()
			}()
		}
	}()
	return r
}

func (r *relay) addr() string { return r.l.Addr().String() }

func (r *relay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = true
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

func (r *relay) restore() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = false
}
