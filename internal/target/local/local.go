// Package local is the Target for services run by a belay agent on this
// host: it speaks the agent's API over its unix socket (or loopback TCP with
// a token).
package local

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/belay-dev/belay/internal/agent"
	"github.com/belay-dev/belay/internal/apitls"
	"github.com/belay-dev/belay/internal/target"
)

// ErrAgent marks an agent that cannot be reached or answered nonsense.
var ErrAgent = errors.New("belay agent unreachable")

// Client is a target.Target backed by a belay agent.
type Client struct {
	http  *http.Client
	base  string
	token string
	where string // for error messages
	trust *apitls.Trust
}

var (
	_ target.Target  = (*Client)(nil)
	_ target.Metrics = (*Client)(nil)
)

// Unix returns a client for the agent listening on the unix socket path.
func Unix(path string) *Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	return &Client{http: &http.Client{Transport: tr}, base: "http://agent", where: "socket " + path}
}

// TCP returns a client for an agent API on a loopback address with a token.
func TCP(addr, token string) *Client {
	return &Client{http: &http.Client{}, base: "http://" + addr, token: token, where: addr}
}

// TLS returns a client for an agent API on addr (host:port) over TLS with
// a token, trusting the certificate (pinned) or CAs in caFile.
func TLS(addr, token, caFile string) (*Client, error) {
	conf, trust, err := apitls.ClientConfig(caFile)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{TLSClientConfig: conf, TLSHandshakeTimeout: 5 * time.Second, ResponseHeaderTimeout: 0}
	return &Client{http: &http.Client{Transport: tr}, base: "https://" + addr, token: token, where: addr, trust: &trust}, nil
}

// Where is the agent's address, for messages.
func (c *Client) Where() string { return c.where }

// Apply sends the desired state and waits until the agent has it in force.
func (c *Client) Apply(ctx context.Context, want target.Desired) error {
	b, err := json.Marshal(want)
	if err != nil {
		return fmt.Errorf("%w: %v", target.ErrInvalid, err)
	}
	return c.do(ctx, http.MethodPut, "/v1/services", bytes.NewReader(b), nil)
}

// Observe asks the agent what runs.
func (c *Client) Observe(ctx context.Context, env, service string) (target.Observed, error) {
	var o target.Observed
	err := c.do(ctx, http.MethodGet, path(env, service, ""), nil, &o)
	return o, err
}

// Counters returns cumulative per-version measurements.
func (c *Client) Counters(ctx context.Context, env, service string) ([]target.Counters, error) {
	var cs []target.Counters
	err := c.do(ctx, http.MethodGet, path(env, service, "/counters"), nil, &cs)
	return cs, err
}

// Remove drains and stops every version of the service.
func (c *Client) Remove(ctx context.Context, env, service string) error {
	return c.do(ctx, http.MethodDelete, path(env, service, ""), nil, nil)
}

// Logs copies the last lines of the instances' logs (of version, or all) to
// w; with follow it keeps copying until ctx ends.
func (c *Client) Logs(ctx context.Context, env, service, version string, lines int, follow bool, w io.Writer) error {
	q := url.Values{"version": {version}, "lines": {strconv.Itoa(lines)}}
	if follow {
		q.Set("follow", "1")
	}
	resp, err := c.send(ctx, http.MethodGet, path(env, service, "/logs")+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return c.decodeErr(resp)
	}
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadBytes('\n')
		if _, werr := w.Write(line); werr != nil {
			return werr
		}
		if err != nil {
			if err == io.EOF || ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

func path(env, service, suffix string) string {
	return "/v1/services/" + url.PathEscape(env) + "/" + url.PathEscape(service) + suffix
}

func (c *Client) send(ctx context.Context, method, p string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+p, body)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if c.trust != nil {
			if terr := c.trust.Explain(err); terr != err {
				return nil, fmt.Errorf("%w at %s: %v", ErrAgent, c.where, terr)
			}
		}
		return nil, fmt.Errorf("%w at %s: %v (is `belay agent` running?)", ErrAgent, c.where, err)
	}
	return resp, nil
}

func (c *Client) do(ctx context.Context, method, p string, body io.Reader, out any) error {
	resp, err := c.send(ctx, method, p, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return c.decodeErr(resp)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%w at %s: bad answer: %v", ErrAgent, c.where, err)
	}
	return nil
}

// decodeErr rebuilds the agent's error so that errors.Is works on the
// target sentinels across the socket.
func (c *Client) decodeErr(resp *http.Response) error {
	var e agent.APIError
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(b, &e) != nil || e.Error == "" {
		return fmt.Errorf("%w at %s: status %d: %s", ErrAgent, c.where, resp.StatusCode, bytes.TrimSpace(b))
	}
	if k := agent.KindError(e.Kind); k != nil {
		return &remoteError{msg: e.Error, kind: k}
	}
	return fmt.Errorf("agent at %s: %s", c.where, e.Error)
}

type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }
