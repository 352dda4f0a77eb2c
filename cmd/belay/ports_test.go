package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
)

// Ports the tests give proxies, servers and Prometheus to listen on: free
// ones picked below the kernel's ephemeral range (32768–60999 by default),
// so that no instance port or outgoing connection, which the kernel takes
// from that range, can take one between the pick and the listen; each port
// is handed out once per test binary, so parallel scripts do not collide.
var ports = struct {
	sync.Mutex
	given map[int]bool
}{given: map[int]bool{}}

func pickPort() (string, error) {
	ports.Lock()
	defer ports.Unlock()
	for range 200 {
		p := 20000 + rand.IntN(12000)
		if ports.given[p] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue // someone else's
		}
		l.Close()
		ports.given[p] = true
		return l.Addr().String(), nil
	}
	return "", fmt.Errorf("no free loopback port in 20000–31999 after 200 tries")
}
