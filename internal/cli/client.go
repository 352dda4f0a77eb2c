package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/apitls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// apiClient talks to a belay server's /api/v1.
type apiClient struct {
	base  string
	token string // sent as Authorization: Bearer
	http  *http.Client
	trust apitls.Trust // over https: what the client trusts of the server's certificate
}

// client finds the server: BELAY_SERVER, else the ready-file in the home
// directory. Over https it trusts the certificates in BELAY_CA_FILE, else
// the certificate the ready-file's server presents (pinned), else (with
// BELAY_SERVER) the system's roots.
func (g *Globals) client(projectFile string) (*apiClient, error) {
	home := g.HomeDir(projectFile)
	token, err := api.Token(home)
	if err != nil {
		return nil, err
	}
	base, trust := os.Getenv("BELAY_SERVER"), os.Getenv("BELAY_CA_FILE")
	if base == "" {
		r, err := api.ReadReady(api.ReadyFile(home))
		if errors.Is(err, os.ErrNotExist) {
			abs, _ := filepath.Abs(home)
			return nil, &hintError{code: codeNoServer, msg: fmt.Sprintf("no belay server is running for %s (no ready-file there)", abs),
				hint: "start one with `belay up`, or set BELAY_SERVER"}
		} else if err != nil {
			return nil, err
		}
		base = r.Server
		if trust == "" {
			trust = r.Cert
		}
	}
	return newAPIClient(base, token, trust)
}

// newAPIClient is a client of the server at base that sends token and,
// over https, trusts trustFile's certificates (see apitls.ClientConfig).
func newAPIClient(base, token, trustFile string) (*apiClient, error) {
	c := &apiClient{base: strings.TrimSuffix(base, "/"), token: token, http: &http.Client{Timeout: 60 * time.Second}}
	if !strings.HasPrefix(c.base, "https://") {
		return c, nil
	}
	conf, trust, err := apitls.ClientConfig(trustFile)
	if err != nil {
		return nil, &hintError{code: codeNoServer, msg: err.Error(), hint: "set BELAY_CA_FILE to the server's certificate or its CA", err: err}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = conf
	c.http.Transport, c.trust = tr, trust
	return c, nil
}

// untimed is c's client for answers that last as long as they need (an
// event stream, an export): the same transport, and so the same trust,
// without the timeout; the caller's context still ends them.
func (c *apiClient) untimed() *http.Client { return &http.Client{Transport: c.http.Transport} }

// noAnswer is the error of a server that does not answer at c.base, or
// whose certificate c does not trust.
func (c *apiClient) noAnswer(err error) error {
	if e := c.trust.Explain(err); errors.Is(e, apitls.ErrUntrusted) {
		hint := "if the server's certificate was rotated, pin the new one: copy it from the server's host " +
			"(<home>/api.crt with --tls-self-signed, else its --tls-cert) and set BELAY_CA_FILE to the copy"
		if !c.trust.Pinned {
			hint = "set BELAY_CA_FILE to the server's certificate (<home>/api.crt on its host, with --tls-self-signed) or to its CA"
		}
		return &hintError{code: codeNoServer, msg: fmt.Sprintf("belay server at %s: %v", c.base, e), hint: hint, err: e}
	}
	return &hintError{code: codeNoServer, msg: fmt.Sprintf("no belay server answers at %s (%v)", c.base, err), hint: "start one with `belay up`", err: err}
}

// statusError is an API answer that is not a success; its text is the
// server's error message.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

// notFound reports whether err is the server's 404.
func notFound(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.code == http.StatusNotFound
}

// do sends in as JSON (when not nil) and decodes the answer into out (when not nil).
func (c *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	resp, err := c.send(ctx, c.http, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// send makes an API request with the token through hc and returns a
// successful answer, whose body the caller closes; any other status is a
// statusError carrying the server's message.
func (c *apiClient) send(ctx context.Context, hc *http.Client, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/api/v1"+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	api.Authorize(req, c.token)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, c.noAnswer(err)
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	var e struct {
		Error string `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return nil, &statusError{code: resp.StatusCode, msg: e.Error}
	}
	return nil, &statusError{code: resp.StatusCode, msg: fmt.Sprintf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))}
}

// whoami is the name of the token this client sends, as the server
// records it for what the client does ("?" when the server cannot say).
func (c *apiClient) whoami(ctx context.Context) string {
	var w api.Whoami
	if err := c.do(ctx, "GET", "/whoami", nil, &w); err != nil || w.Name == "" {
		return "?"
	}
	return w.Name
}
