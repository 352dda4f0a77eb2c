package proxy

import (
	"net/http/httptest"
	"testing"
)

func TestPinnedVersionFromLoopbackOnly(t *testing.T) {
	routes := []*Route{
		{Version: "stable", Weight: 100, Backends: []*Backend{{Addr: "127.0.0.1:1"}}},
		{Version: "canary", Weight: 0, Backends: []*Backend{{Addr: "127.0.0.1:2"}}},
	}
	tab := NewTable(routes, Sticky{}, "X-Belay-Version")
	for _, c := range []struct {
		remote, want string
	}{{"127.0.0.1:5555", "canary"}, {"[::1]:5555", "canary"}, {"10.0.0.8:5555", "stable"}} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		r.Header.Set("X-Belay-Version", "canary")
		if got, _ := tab.pick(r); got.Version != c.want {
			t.Errorf("from %s: routed to %s, want %s", c.remote, got.Version, c.want)
		}
	}
}

func TestHasHeader(t *testing.T) {
	head := []byte("GET / HTTP/1.1\r\nHost: x\r\nx-belay-version: v2\r\n\r\n")
	if !hasHeader(head, "X-Belay-Version") || hasHeader(head, "X-Other") {
		t.Fatal("hasHeader")
	}
}
