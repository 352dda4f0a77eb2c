package apitls

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// ErrUntrusted is a server certificate the client does not trust.
var ErrUntrusted = errors.New("untrusted server certificate")

// Trust is what a client trusts of a server's certificate: the
// certificates in File, or the system's roots when File is "".
type Trust struct {
	File string
	// Pinned: File's first certificate is a server's own (not a CA's),
	// and the server must present exactly it.
	Pinned bool
}

// ClientConfig is the TLS configuration of a client that trusts file's
// certificates, or the system's roots when file is "". A file whose first
// certificate is a server's own (not a CA: the self-signed certificate, or
// the certificate a server was given) pins it: the server must present
// exactly that certificate, at whatever address it is reached, since the
// pin itself says which server it is. Otherwise the file holds the CAs the
// server's certificate must chain to, for the name dialled.
func ClientConfig(file string) (*tls.Config, Trust, error) {
	t := Trust{File: file}
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if file == "" {
		return conf, t, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, t, fmt.Errorf("the server's certificate: %w", err)
	}
	certs, err := parseCerts(b)
	if err != nil {
		return nil, t, fmt.Errorf("the server's certificate: %s: %w", file, err)
	}
	conf.RootCAs = x509.NewCertPool()
	pin := certs[0]
	if pin.IsCA {
		for _, c := range certs {
			conf.RootCAs.AddCert(c)
		}
		return conf, t, nil
	}
	t.Pinned = true
	conf.RootCAs.AddCert(pin)
	// The standard verification checks the name dialled against the
	// certificate's; for a pin, the name is the certificate's own.
	conf.ServerName = nameOf(pin)
	// A certificate the pin signed would verify too: only the pin will do.
	conf.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 || !cs.PeerCertificates[0].Equal(pin) {
			return fmt.Errorf("%w: not the one pinned", ErrUntrusted)
		}
		return nil
	}
	return conf, t, nil
}

// nameOf is a name pin is valid for ("" if none: then the name dialled
// must be one).
func nameOf(pin *x509.Certificate) string {
	switch {
	case len(pin.DNSNames) > 0:
		return pin.DNSNames[0]
	case len(pin.IPAddresses) > 0:
		return pin.IPAddresses[0].String()
	}
	return ""
}

// Explain turns the error of a request the server's certificate failed
// into one wrapping ErrUntrusted that says what the client trusts; any
// other error is returned as it is.
func (t Trust) Explain(err error) error {
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) && !errors.Is(err, ErrUntrusted) {
		return err
	}
	switch {
	case t.Pinned:
		return untrusted("the server's certificate is not the one pinned in " + t.File)
	case t.File != "":
		return untrusted("the server's certificate is not signed by a CA in " + t.File)
	}
	return untrusted("the server's certificate is not signed by a CA this system trusts")
}

// untrusted is an ErrUntrusted whose text is only what it says.
type untrusted string

func (e untrusted) Error() string        { return string(e) }
func (e untrusted) Is(target error) bool { return target == ErrUntrusted }

// parseCerts reads every certificate of a PEM file, in order.
func parseCerts(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("a certificate does not parse: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate in it")
	}
	return certs, nil
}
