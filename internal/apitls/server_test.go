package apitls

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// servedWith runs an HTTPS server presenting certFile, answering 204.
func servedWith(t *testing.T, certFile, keyFile string) string {
	t.Helper()
	conf, err := ServerConfig(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	srv.TLS = conf
	srv.Config.ErrorLog = slog.NewLogLogger(slog.DiscardHandler, 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "https://")
}

// A client older than TLS 1.2 is refused; 1.2 is served.
func TestServerConfigWantsTLS12(t *testing.T) {
	cert, key, err := SelfSigned(t.TempDir(), "", time.Now(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	addr := servedWith(t, cert, key)
	conf, _, err := ClientConfig(cert)
	if err != nil {
		t.Fatal(err)
	}
	conf.MaxVersion = tls.VersionTLS12
	c, err := tls.Dial("tcp", addr, conf)
	if err != nil {
		t.Fatalf("TLS 1.2: %v", err)
	}
	c.Close()
	conf.MinVersion, conf.MaxVersion = tls.VersionTLS11, tls.VersionTLS11
	if c, err := tls.Dial("tcp", addr, conf); err == nil || !strings.Contains(err.Error(), "protocol version") {
		if c != nil {
			c.Close()
		}
		t.Fatalf("TLS 1.1: %v", err)
	}
}
