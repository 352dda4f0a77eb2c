package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/belay-dev/belay/internal/atomicfile"
)

// Ready is what `belay up` and the daemons write once they listen, so that
// client verbs and tests find them without guessing ports.
type Ready struct {
	Server      string `json:"server,omitempty"`       // base URL of the API, http://127.0.0.1:PORT
	Cert        string `json:"cert,omitempty"`         // over https: the certificate file the server presents, which clients here pin
	ServerPID   int    `json:"server_pid,omitempty"`   //
	AgentSocket string `json:"agent_socket,omitempty"` // unix socket of the agent API
	AgentPID    int    `json:"agent_pid,omitempty"`
	Home        string `json:"home"`
	Project     string `json:"project,omitempty"` // belay.yaml the server serves
}

// ReadyFile is where a home directory's ready-file lives.
func ReadyFile(home string) string { return filepath.Join(home, "ready.json") }

// WriteReady writes r atomically, creating the directory if need be.
func WriteReady(path string, r Ready) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o600)
}

// ReadReady reads a ready-file; a missing file wraps os.ErrNotExist.
func ReadReady(path string) (Ready, error) {
	var r Ready
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("ready-file %s is corrupt (%v): remove it and run `belay up` again", path, err)
	}
	return r, nil
}

// TokenFile is where a home directory keeps the token the local CLI uses:
// the first admin token, written by the server that made it (mode 0600).
func TokenFile(home string) string { return filepath.Join(home, "token") }

// Token is the token a client sends: BELAY_TOKEN, else the home's token
// file; "" when there is neither (the server will say how to get one).
func Token(home string) (string, error) {
	if t := os.Getenv("BELAY_TOKEN"); t != "" {
		return strings.TrimSpace(t), nil
	}
	b, err := os.ReadFile(TokenFile(home))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the API token: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Authorize puts token on req as a bearer token (never in the URL).
func Authorize(req *http.Request, token string) {
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
}
