package cli

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/belay-dev/belay/internal/apitls"
	"github.com/spf13/pflag"
)

// defaultListen is the API's address when neither --listen nor
// BELAY_LISTEN gives one: loopback, on a port the system picks.
const defaultListen = "127.0.0.1:0"

// apiListen is where the API listens and over what: `belay server` takes
// it, `belay up` checks it and passes it on.
type apiListen struct {
	Listen     string // "" in `belay up`: the server's default
	TLSCert    string
	TLSKey     string
	SelfSigned bool
}

func (l *apiListen) addFlags(fl *pflag.FlagSet, listenDefault, listenUsage string) {
	fl.StringVar(&l.Listen, "listen", listenDefault, listenUsage)
	fl.StringVar(&l.TLSCert, "tls-cert", envOr("BELAY_TLS_CERT", ""), "serve the API over TLS with this PEM certificate (and its chain); needs --tls-key (env BELAY_TLS_CERT)")
	fl.StringVar(&l.TLSKey, "tls-key", envOr("BELAY_TLS_KEY", ""), "the PEM private key of --tls-cert (env BELAY_TLS_KEY)")
	fl.BoolVar(&l.SelfSigned, "tls-self-signed", false, "serve the API over TLS with a self-signed certificate, made once as <home>/api.crt "+
		"(remade when it expires), which the CLI on this host pins")
}

// address is the address the API listens on.
func (l apiListen) address() string {
	if l.Listen != "" {
		return l.Listen
	}
	return envOr("BELAY_LISTEN", defaultListen)
}

func (l apiListen) tls() bool { return l.SelfSigned || l.TLSCert != "" }

// check refuses half a certificate, two certificates, and an address other
// hosts can reach without TLS: tokens would cross the network in clear.
func (l apiListen) check() error {
	switch {
	case (l.TLSCert == "") != (l.TLSKey == ""):
		return usageError{errors.New("--tls-cert and --tls-key go together: pass both, or --tls-self-signed for a certificate belay makes")}
	case l.SelfSigned && l.TLSCert != "":
		return usageError{errors.New("--tls-self-signed and --tls-cert are two certificates for one API: pass one")}
	}
	listen := l.address()
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return usageError{fmt.Errorf("--listen %q: want host:port, e.g. 127.0.0.1:7070: %v", listen, err)}
	}
	if l.tls() || isLoopback(host) {
		return nil
	}
	return usageError{fmt.Errorf("--listen %s: other hosts can reach this address and the API carries tokens, so it needs TLS: "+
		"pass --tls-cert FILE --tls-key FILE, or --tls-self-signed for a certificate belay makes and the CLI on this host pins; "+
		"or listen on loopback (127.0.0.1 or ::1)", listen)}
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// checkForUp checks l before `belay up` starts a server with it, loading
// the certificate files it names (so that a wrong file fails here, not in
// the server's log), and returns the flags that give l to the server.
func (l apiListen) checkForUp() ([]string, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	if l.TLSCert != "" {
		if _, err := apitls.ServerConfig(l.TLSCert, l.TLSKey); err != nil {
			return nil, err
		}
	}
	return l.serverArgs()
}

// serverArgs are the flags that hand l on to `belay server`, with the
// files' paths made absolute.
func (l apiListen) serverArgs() ([]string, error) {
	var args []string
	if l.Listen != "" {
		args = append(args, "--listen", l.Listen)
	}
	if l.SelfSigned {
		args = append(args, "--tls-self-signed")
	}
	if l.TLSCert != "" {
		cert, err := filepath.Abs(l.TLSCert)
		if err != nil {
			return nil, err
		}
		key, err := filepath.Abs(l.TLSKey)
		if err != nil {
			return nil, err
		}
		args = append(args, "--tls-cert", cert, "--tls-key", key)
	}
	return args, nil
}

// serverTLS is what the server for home serves the API over (nil: plain
// HTTP) and the certificate file it presents, which clients on this host
// pin (they find it in the ready-file).
func (l apiListen) serverTLS(home string, log *slog.Logger) (*tls.Config, string, error) {
	cert, key := l.TLSCert, l.TLSKey
	if l.SelfSigned {
		host, _, _ := net.SplitHostPort(l.address())
		var err error
		if cert, key, err = apitls.SelfSigned(home, host, time.Now(), log); err != nil {
			return nil, "", err
		}
	}
	if cert == "" {
		return nil, "", nil
	}
	conf, err := apitls.ServerConfig(cert, key)
	if err != nil {
		return nil, "", err
	}
	abs, err := filepath.Abs(cert)
	return conf, abs, err
}

// apiURL is the URL clients on this host reach the API at, listening on
// addr: an address of every interface is reached on 127.0.0.1 (Go listens
// on 0.0.0.0 and :: alike on both IPv4 and IPv6, and shows either as ::).
func apiURL(scheme string, addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + "://" + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
