package api

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/belay-dev/belay/internal/atomicfile"
)

// Ready is what `belay up` and the daemons write once they listen, so that
// client verbs and tests find them without guessing ports.
type Ready struct {
	Server      string `json:"server,omitempty"`       // base URL of the API, http://127.0.0.1:PORT
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
