package apitls

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

func TestSelfSignedIsMadeOnceAndRemadeWhenExpired(t *testing.T) {
	home := t.TempDir()
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	now := time.Now()
	cert, key, err := SelfSigned(home, "10.1.2.3", now, log)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := readCert(cert)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	for _, name := range []string{"localhost", "127.0.0.1", "::1", "10.1.2.3", host} {
		if err := leaf.VerifyHostname(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if leaf.IsCA || leaf.NotAfter.Before(now.Add(364*24*time.Hour)) {
		t.Errorf("CA %v, valid until %v", leaf.IsCA, leaf.NotAfter)
	}
	if _, err := ServerConfig(cert, key); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(cert)

	// Reused, however often, until it expires; a new listen address does
	// not make a new one, it is warned about.
	if _, _, err := SelfSigned(home, "10.9.9.9", now.Add(300*24*time.Hour), log); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(cert); !bytes.Equal(again, first) {
		t.Error("remade before it expired")
	}
	if !strings.Contains(logged.String(), "does not name the address the API listens on") {
		t.Errorf("log: %s", logged.String())
	}
	if _, _, err := SelfSigned(home, "0.0.0.0", now.Add(366*24*time.Hour), log); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(cert); bytes.Equal(again, first) {
		t.Error("not remade once expired")
	}
	if !strings.Contains(logged.String(), "the self-signed API certificate expired: making a new one") {
		t.Errorf("log: %s", logged.String())
	}
	if _, err := ServerConfig(cert, key); err != nil {
		t.Errorf("the new certificate and key: %v", err)
	}
}

func TestSelfSignedRefusesACorruptCertificate(t *testing.T) {
	home := t.TempDir()
	cert, _ := SelfSignedFiles(home)
	if err := os.WriteFile(cert, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := SelfSigned(home, "", time.Now(), slog.New(slog.DiscardHandler))
	if err == nil || err.Error() != cert+": no PEM certificate in it (remove it to have belay make a new one)" {
		t.Errorf("got %v", err)
	}
}

func TestHostOnly(t *testing.T) {
	for host, want := range map[string]string{"": "", "0.0.0.0": "", "::": "", "10.0.0.1": "10.0.0.1", "belay.example": "belay.example"} {
		if got := hostOnly(host); got != want {
			t.Errorf("%q: %q", host, got)
		}
	}
}
