package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/apitls"
)

func TestServerListensOnLoopbackOnly(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:0", "[::1]:7070", "localhost:7070", "127.0.0.2:80"} {
		if err := (apiListen{Listen: ok}).check(); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"0.0.0.0:7070", ":7070", "10.0.0.5:7070", "[::]:7070", "example.com:80", "7070"} {
		if err := (apiListen{Listen: bad}).check(); err == nil || !strings.Contains(err.Error(), "--listen") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// Off loopback the API needs TLS, and the refusal says what to pass.
func TestServerOffLoopbackNeedsTLS(t *testing.T) {
	err := (apiListen{Listen: "0.0.0.0:7070"}).check()
	want := "--listen 0.0.0.0:7070: other hosts can reach this address and the API carries tokens, so it needs TLS: " +
		"pass --tls-cert FILE --tls-key FILE, or --tls-self-signed for a certificate belay makes and the CLI on this host pins; " +
		"or listen on loopback (127.0.0.1 or ::1)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	for _, l := range []apiListen{
		{Listen: "0.0.0.0:7070", SelfSigned: true},
		{Listen: "[::]:7070", TLSCert: "c.pem", TLSKey: "k.pem"},
		{Listen: "127.0.0.1:0", SelfSigned: true}, // TLS on loopback too
		{Listen: "example.com:443", SelfSigned: true},
	} {
		if err := l.check(); err != nil {
			t.Errorf("%+v: %v", l, err)
		}
	}
	for l, want := range map[apiListen]string{
		{Listen: "0.0.0.0:7070", TLSCert: "c.pem"}:                                    "--tls-cert and --tls-key go together",
		{Listen: "0.0.0.0:7070", TLSKey: "k.pem"}:                                     "--tls-cert and --tls-key go together",
		{Listen: "0.0.0.0:7070", TLSCert: "c.pem", TLSKey: "k.pem", SelfSigned: true}: "--tls-self-signed and --tls-cert are two certificates",
		{Listen: "7070", SelfSigned: true}:                                            "want host:port",
	} {
		if err := l.check(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v, want %q", l, err, want)
		}
	}
}

// tlsServer runs `belay server` for home with l until the test ends, and
// returns its ready-file.
func tlsServer(t *testing.T, home string, l apiListen) api.Ready {
	t.Helper()
	r, stop := startServer(t, home, l)
	t.Cleanup(stop)
	return r
}

// startServer runs `belay server` for home with l until stop.
func startServer(t *testing.T, home string, l apiListen) (api.Ready, func()) {
	t.Helper()
	c := ServerConfig{File: "../../examples/hello/belay.yaml", apiListen: l, AgentSocket: filepath.Join(home, "agent.sock"), Tick: time.Second}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan api.Ready, 1), make(chan error, 1)
	go func() {
		done <- runServer(ctx, &Globals{Home: home}, c, slog.New(slog.DiscardHandler), func(r api.Ready) { ready <- r })
	}()
	select {
	case r := <-ready:
		var once sync.Once
		return r, func() {
			once.Do(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("server: %v", err)
				}
			})
		}
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v", err)
	}
	return api.Ready{}, nil
}

// whoami asks the server at r who the home's token is, through the CLI's client.
func whoami(t *testing.T, home string) (api.Whoami, error) {
	t.Helper()
	c, err := (&Globals{Home: home}).client("")
	if err != nil {
		return api.Whoami{}, err
	}
	var w api.Whoami
	err = c.do(context.Background(), "GET", "/whoami", nil, &w)
	return w, err
}

// The self-signed certificate is made once, reused at the next start,
// and pinned by the CLI through the ready-file.
func TestSelfSignedCertificateIsMadeOnceAndPinned(t *testing.T) {
	home := t.TempDir()
	r, stop := startServer(t, home, apiListen{Listen: "127.0.0.1:0", SelfSigned: true})
	cert, key := apitls.SelfSignedFiles(home)
	if !strings.HasPrefix(r.Server, "https://127.0.0.1:") || r.Cert != cert {
		t.Fatalf("ready-file: server %s, cert %s; want https and %s", r.Server, r.Cert, cert)
	}
	for file, mode := range map[string]os.FileMode{cert: 0o644, key: 0o600} {
		if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v, mode %v, want %v", file, err, fi.Mode().Perm(), mode)
		}
	}
	if w, err := whoami(t, home); err != nil || w.Name != "admin" {
		t.Fatalf("whoami over the pinned certificate: %+v, %v", w, err)
	}
	first, _ := os.ReadFile(cert)
	stop()

	// The next start, on another port, presents the same certificate.
	tlsServer(t, home, apiListen{Listen: "127.0.0.1:0", SelfSigned: true})
	if second, _ := os.ReadFile(cert); string(second) != string(first) {
		t.Error("the second start made a new certificate")
	}
	if w, err := whoami(t, home); err != nil || w.Name != "admin" {
		t.Errorf("whoami after the restart: %+v, %v", w, err)
	}
}

// A server presenting another certificate than the pinned one is refused,
// saying which pin and what to do after a rotation.
func TestCLIRefusesAnotherCertificate(t *testing.T) {
	home := t.TempDir()
	tlsServer(t, home, apiListen{Listen: "127.0.0.1:0", SelfSigned: true})
	other := t.TempDir()
	otherCert, _, err := apitls.SelfSigned(other, "", time.Now(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("BELAY_CA_FILE", otherCert)
	_, err = whoami(t, home)
	var he *hintError
	if !errors.As(err, &he) || !errors.Is(err, apitls.ErrUntrusted) ||
		!strings.Contains(he.msg, "the server's certificate is not the one pinned in "+otherCert) ||
		!strings.HasPrefix(he.hint, "if the server's certificate was rotated, pin the new one: copy it from the server's host") {
		t.Fatalf("got %v", err)
	}

	// Without a pin, over the system's roots, a self-signed one fails too.
	t.Setenv("BELAY_CA_FILE", "")
	r, _ := api.ReadReady(api.ReadyFile(home))
	t.Setenv("BELAY_SERVER", r.Server)
	if _, err := whoami(t, home); !errors.Is(err, apitls.ErrUntrusted) || !strings.Contains(err.Error(), "not signed by a CA this system trusts") {
		t.Errorf("over the system's roots: %v", err)
	}
}

// Plain HTTP to the TLS port is answered with 400, never with the API.
func TestPlainHTTPToTheTLSPortFails(t *testing.T) {
	home := t.TempDir()
	r := tlsServer(t, home, apiListen{Listen: "127.0.0.1:0", SelfSigned: true})
	plain := "http://" + strings.TrimPrefix(r.Server, "https://")
	resp, err := http.Get(plain + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "HTTP request to an HTTPS server") {
		t.Errorf("plain HTTP: %s %q", resp.Status, body)
	}
	t.Setenv("BELAY_SERVER", plain)
	if _, err := whoami(t, home); err == nil {
		t.Error("the CLI over plain HTTP got an answer")
	}
}

// Given certificate files are served and pinned through the ready-file; a
// key that is not the certificate's, or a file that cannot be read, fails
// naming the file.
func TestGivenCertificateFiles(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	cert, key, err := apitls.SelfSigned(filepath.Join(dir, "a"), "", time.Now(), log)
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := apitls.SelfSigned(filepath.Join(dir, "b"), "", time.Now(), log)
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	r := tlsServer(t, home, apiListen{Listen: "127.0.0.1:0", TLSCert: cert, TLSKey: key})
	if r.Cert != cert {
		t.Errorf("ready-file names %q, want %s", r.Cert, cert)
	}
	if w, err := whoami(t, home); err != nil || w.Name != "admin" {
		t.Errorf("whoami: %+v, %v", w, err)
	}

	missing, junk := filepath.Join(dir, "nope.pem"), filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not PEM\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for l, want := range map[apiListen]string{
		{Listen: "0.0.0.0:0", TLSCert: cert, TLSKey: otherKey}: "TLS certificate " + cert + " with key " + otherKey + ": tls: private key does not match public key",
		{Listen: "0.0.0.0:0", TLSCert: missing, TLSKey: key}:   "TLS certificate: open " + missing + ": no such file or directory",
		{Listen: "0.0.0.0:0", TLSCert: cert, TLSKey: missing}:  "TLS key: open " + missing + ": no such file or directory",
		{Listen: "0.0.0.0:0", TLSCert: junk, TLSKey: key}:      "TLS certificate " + junk + " with key " + key + ": tls: failed to find any PEM data in certificate input",
	} {
		if _, err := l.checkForUp(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("belay up %+v: %v, want %q", l, err, want)
		}
		if _, _, err := l.serverTLS(t.TempDir(), log); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("belay server %+v: %v, want %q", l, err, want)
		}
	}
}
