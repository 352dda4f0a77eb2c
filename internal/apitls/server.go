// Package apitls is TLS for belay's API: the server's certificate (files
// the operator gives, or a self-signed one kept in the home directory) and
// a client's trust in it (a pinned certificate, or a file of CAs).
package apitls

import (
	"crypto/tls"
	"fmt"
	"os"
)

// ServerConfig is the TLS configuration of a server presenting the
// certificate (and its chain) in certFile with the key in keyFile. Its
// errors name the file at fault.
func ServerConfig(certFile, keyFile string) (*tls.Config, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS key: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s with key %s: %w (give a PEM certificate and the PEM private key it was made for)", certFile, keyFile, err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}, nil
}
