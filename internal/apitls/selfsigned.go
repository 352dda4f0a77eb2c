package apitls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/belay-dev/belay/internal/atomicfile"
)

// SelfSignedFor is how long a self-signed certificate is valid.
const SelfSignedFor = 365 * 24 * time.Hour

// SelfSignedFiles are where a home directory keeps the server's
// self-signed certificate (0644: clients elsewhere copy it to pin it) and
// its key (0600).
func SelfSignedFiles(home string) (cert, key string) {
	return filepath.Join(home, "api.crt"), filepath.Join(home, "api.key")
}

// SelfSigned returns the files of home's self-signed certificate, making
// them when they are missing or the certificate has expired, and reusing
// them otherwise: clients pin the certificate, so a new one locks them out
// until they pin it again. host is the address the server listens on; it
// is named in a new certificate, beside localhost, the loopback addresses
// and this machine's hostname.
func SelfSigned(home, host string, now time.Time, log *slog.Logger) (certFile, keyFile string, err error) {
	certFile, keyFile = SelfSignedFiles(home)
	leaf, err := readCert(certFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		log.Info("making a self-signed certificate for the API", "cert", certFile, "key", keyFile)
	case err != nil:
		return "", "", err
	case now.After(leaf.NotAfter):
		log.Warn("the self-signed API certificate expired: making a new one; clients that pinned the old one must pin the new one",
			"cert", certFile, "expired", leaf.NotAfter.Format(time.RFC3339))
	default:
		if h := hostOnly(host); h != "" && leaf.VerifyHostname(h) != nil {
			log.Warn("the self-signed API certificate does not name the address the API listens on; clients that pin it still connect, "+
				"others check the name: remove it and its key to make one that names it", "cert", certFile, "listen", h)
		}
		return certFile, keyFile, nil
	}
	if err := makeSelfSigned(certFile, keyFile, hostnames(host), now); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// readCert reads the first certificate of a PEM file.
func readCert(file string) (*x509.Certificate, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	certs, err := parseCerts(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (remove it to have belay make a new one)", file, err)
	}
	return certs[0], nil
}

// hostnames are the names a self-signed certificate for host holds.
func hostnames(host string) []string {
	names := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil && h != "" {
		names = append(names, h)
	}
	if h := hostOnly(host); h != "" && !slices.Contains(names, h) {
		names = append(names, h)
	}
	return names
}

// hostOnly is the host of a listen address worth naming in a
// certificate: none for an address of every interface.
func hostOnly(host string) string {
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return ""
	}
	return host
}

// makeSelfSigned writes a new ECDSA P-256 key and a certificate for names
// valid from now (give or take an hour of clock skew) for SelfSignedFor.
func makeSelfSigned(certFile, keyFile string, names []string, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "belay API"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(SelfSignedFor),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, // and not a CA: it signs nothing else
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(certFile), 0o755); err != nil {
		return err
	}
	// The key first: a certificate on disk always has its key beside it.
	if err := atomicfile.Write(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return atomicfile.Write(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}
