package apitls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// get asks https://addr/ trusting file.
func get(t *testing.T, file, addr string) error {
	t.Helper()
	conf, trust, err := ClientConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: conf}}
	resp, err := c.Get("https://" + addr + "/")
	if err != nil {
		return trust.Explain(err)
	}
	resp.Body.Close()
	return nil
}

// A pinned certificate is accepted at whatever address the server is
// reached (it need not name it), and no other is.
func TestPinnedCertificate(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	pin, key := filepath.Join(dir, "pin.crt"), filepath.Join(dir, "pin.key")
	if err := makeSelfSigned(pin, key, []string{"belay.example"}, now); err != nil {
		t.Fatal(err)
	}
	other, otherKey := filepath.Join(dir, "other.crt"), filepath.Join(dir, "other.key")
	if err := makeSelfSigned(other, otherKey, []string{"belay.example", "127.0.0.1"}, now); err != nil {
		t.Fatal(err)
	}
	if err := get(t, pin, servedWith(t, pin, key)); err != nil {
		t.Errorf("the pinned certificate, at 127.0.0.1 which it does not name: %v", err)
	}
	err := get(t, pin, servedWith(t, other, otherKey))
	if !errors.Is(err, ErrUntrusted) || err.Error() != "the server's certificate is not the one pinned in "+pin {
		t.Errorf("another certificate: %v", err)
	}
	if err := get(t, "", servedWith(t, other, otherKey)); !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), "a CA this system trusts") {
		t.Errorf("a self-signed certificate over the system's roots: %v", err)
	}
}

// A file of CAs trusts what they sign, for the names their certificates hold.
func TestCAFile(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCert(t, nil, nil, true, nil)
	caFile := writePEM(t, dir, "ca.crt", "CERTIFICATE", ca.Raw)
	leaf, leafKey := newCert(t, ca, caKey, false, []string{"127.0.0.1"})
	certFile := writePEM(t, dir, "leaf.crt", "CERTIFICATE", leaf.Raw)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(leafKey)
	keyFile := writePEM(t, dir, "leaf.key", "PRIVATE KEY", keyDER)
	addr := servedWith(t, certFile, keyFile)
	if err := get(t, caFile, addr); err != nil {
		t.Errorf("a certificate the CA signed: %v", err)
	}
	if err := get(t, caFile, "localhost:"+strings.Split(addr, ":")[1]); err == nil || errors.Is(err, ErrUntrusted) {
		t.Errorf("a name the certificate does not hold: %v", err)
	}
	self, selfKey := filepath.Join(dir, "self.crt"), filepath.Join(dir, "self.key")
	if err := makeSelfSigned(self, selfKey, []string{"127.0.0.1"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := get(t, caFile, servedWith(t, self, selfKey)); !errors.Is(err, ErrUntrusted) || err.Error() != "the server's certificate is not signed by a CA in "+caFile {
		t.Errorf("a certificate the CA did not sign: %v", err)
	}
}

func TestClientConfigNamesAFileItCannotUse(t *testing.T) {
	junk := writePEM(t, t.TempDir(), "junk.pem", "PRIVATE KEY", []byte("x"))
	if _, _, err := ClientConfig(junk); err == nil || err.Error() != "the server's certificate: "+junk+": no PEM certificate in it" {
		t.Errorf("got %v", err)
	}
	if _, _, err := ClientConfig(junk + ".missing"); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), junk+".missing") {
		t.Errorf("got %v", err)
	}
}

func newCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, isCA bool, names []string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		BasicConstraintsValid: true, IsCA: isCA, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	for _, n := range names {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(n))
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
