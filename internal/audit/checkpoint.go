package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// checkpointOrigin is the first line of a checkpoint note's text.
const checkpointOrigin = "belay audit log"

// KeyName names the server's checkpoint key in its signature lines.
const KeyName = "belay-audit"

// Checkpoint is the size of the log and the root of its tree at that size.
type Checkpoint struct {
	Size int64
	Root tlog.Hash
}

// Text is the checkpoint's note text: "belay audit log", the size and the
// base64 root, one a line (as the Go checksum database's tree notes).
func (c Checkpoint) Text() string {
	return fmt.Sprintf("%s\n%d\n%s\n", checkpointOrigin, c.Size, c.Root)
}

// Sign returns the checkpoint as a note signed by s.
func Sign(c Checkpoint, s note.Signer) (string, error) {
	b, err := note.Sign(&note.Note{Text: c.Text()}, s)
	return string(b), err
}

// Open checks a checkpoint note's signature by v and returns what it says.
func Open(text string, v note.Verifier) (Checkpoint, error) {
	n, err := note.Open([]byte(text), note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: not signed by this server's audit key (%s): %v", ErrCheckpoint, v.Name(), err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[0] != checkpointOrigin || lines[3] != "" {
		return Checkpoint{}, fmt.Errorf("%w: the note is not a belay audit checkpoint", ErrCheckpoint)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 {
		return Checkpoint{}, fmt.Errorf("%w: bad size %q", ErrCheckpoint, lines[1])
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: bad root %q", ErrCheckpoint, lines[2])
	}
	return Checkpoint{Size: size, Root: root}, nil
}

// Key is the server's checkpoint key: its own, never an artifact signing key.
type Key struct {
	Signer   note.Signer
	Verifier note.Verifier
	Public   string // the verifier key, as in audit.pub
}

// KeyFiles are where LoadKey keeps the key in a home directory.
func KeyFiles(home string) (private, public string) {
	return filepath.Join(home, "audit.key"), filepath.Join(home, "audit.pub")
}

// LoadKey reads the checkpoint key from home/audit.key, creating it (mode
// 0600, with home/audit.pub beside it) the first time.
func LoadKey(home string) (*Key, error) {
	priv, pub := KeyFiles(home)
	skey, err := os.ReadFile(priv)
	if errors.Is(err, fs.ErrNotExist) {
		return createKey(priv, pub)
	}
	if err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	return keyOf(strings.TrimSpace(string(skey)), priv)
}

func createKey(priv, pub string) (*Key, error) {
	skey, vkey, err := note.GenerateKey(rand.Reader, KeyName)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(priv), 0o700); err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	// O_EXCL: two servers starting at once keep one key, not two.
	f, err := os.OpenFile(priv, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadKey(filepath.Dir(priv))
	}
	if err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	_, err = f.WriteString(skey + "\n")
	if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
		return nil, fmt.Errorf("audit key %s: %w", priv, err)
	}
	if err := os.WriteFile(pub, []byte(vkey+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	return keyOf(skey, priv)
}

// keyOf makes a Key from a note signer key; the verifier key is derived
// from it, so audit.pub is only for others to read.
func keyOf(skey, path string) (*Key, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("audit key %s: %v (remove it to make a new one; saved checkpoints then no longer verify)", path, err)
	}
	vkey, err := verifierKey(skey)
	if err != nil {
		return nil, fmt.Errorf("audit key %s: %w", path, err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("audit key %s: %w", path, err)
	}
	return &Key{Signer: s, Verifier: v, Public: vkey}, nil
}

// verifierKey derives the verifier key of a note signer key
// (PRIVATE+KEY+name+hash+base64(alg ‖ seed)).
func verifierKey(skey string) (string, error) {
	rest, ok := strings.CutPrefix(skey, "PRIVATE+KEY+")
	parts := strings.SplitN(rest, "+", 3) // name, key hash, base64 key (which may hold "+")
	if !ok || len(parts) != 3 {
		return "", errors.New("not a note signer key")
	}
	key, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(key) != 1+ed25519.SeedSize || key[0] != 1 {
		return "", errors.New("not an ed25519 note signer key")
	}
	return note.NewEd25519VerifierKey(parts[0], ed25519.NewKeyFromSeed(key[1:]).Public().(ed25519.PublicKey))
}
