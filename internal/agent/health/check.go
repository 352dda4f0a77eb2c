// Package health probes service instances (HTTP or TCP) and tracks each
// instance's consecutive results to decide when it joins or leaves the pool.
package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// ErrFailed marks a failed probe.
var ErrFailed = errors.New("health check failed")

// Check is one version's probe: HTTP GET of Path expecting Status, or a TCP
// connect when Path is empty.
type Check struct {
	Path    string
	Status  int // expected status; 0 means any 2xx
	Timeout time.Duration
}

// Prober runs checks; it keeps no connections open so that every probe
// exercises the instance's accept path, as a new client would.
type Prober struct {
	client *http.Client
	dialer net.Dialer
}

// NewProber returns a Prober.
func NewProber() *Prober {
	tr := &http.Transport{DisableKeepAlives: true, Proxy: nil}
	return &Prober{client: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// Probe checks the instance listening on addr (host:port).
func (p *Prober) Probe(ctx context.Context, c Check, addr string) error {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if c.Path == "" {
		conn, err := p.dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("%w: tcp %s: %v", ErrFailed, addr, err)
		}
		return conn.Close()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+c.Path, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrFailed, err)
	}
	req.Header.Set("User-Agent", "belay-health")
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: GET %s: %v", ErrFailed, req.URL, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	ok := resp.StatusCode == c.Status || (c.Status == 0 && resp.StatusCode/100 == 2)
	if !ok {
		return fmt.Errorf("%w: GET %s: status %d, want %s", ErrFailed, req.URL, resp.StatusCode, want(c.Status))
	}
	return nil
}

func want(status int) string {
	if status == 0 {
		return "2xx"
	}
	return fmt.Sprint(status)
}
