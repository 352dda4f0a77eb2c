package cli

import (
	"strings"
	"testing"
)

func TestServerListensOnLoopbackOnly(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:0", "[::1]:7070", "localhost:7070", "127.0.0.2:80"} {
		if err := loopbackOnly(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"0.0.0.0:7070", ":7070", "10.0.0.5:7070", "[::]:7070", "example.com:80", "7070"} {
		if err := loopbackOnly(bad); err == nil || !strings.Contains(err.Error(), "--listen") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
