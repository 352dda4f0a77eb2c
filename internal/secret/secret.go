// Package secret keeps environment secrets: per environment, one file
// encrypted with age (filippo.io/age) that is committed next to belay.yaml
// (secrets/<environment>.age), decryptable only with that environment's
// identity, which the server holds (<home>/secrets/<environment>.key, in
// age's own identity file format). Values reach a service's instances and
// hooks as environment variables at deploy time and are redacted from what
// belay shows (see Redactor).
package secret

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/belay-dev/belay/internal/atomicfile"
)

// Limits of a secret.
const (
	MinValueLen = 8        // shorter values cannot be redacted without redacting ordinary text
	MaxValueLen = 64 << 10 // a certificate chain fits
	maxFileLen  = 16 << 20 // a secrets file larger than this is not read
)

var nameRE = regexp.MustCompile(`^[A-Z_][A-Z0-9_]{0,127}$`)

// CheckName says whether name can be a secret: an environment variable name
// in capitals, not one belay sets itself.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("secret name %q is not an environment variable name: use capitals, digits and _ (e.g. DATABASE_URL), at most 128", name)
	}
	if name == "PORT" || name == "VERSION" || strings.HasPrefix(name, "BELAY_") {
		return fmt.Errorf("secret name %q is set by belay itself: choose another name", name)
	}
	return nil
}

// CheckValue says whether value can be kept as a secret.
func CheckValue(name, value string) error {
	switch {
	case len(value) < MinValueLen:
		return fmt.Errorf("secret %s is %d bytes; a secret needs at least %d, so that belay can redact it without hiding ordinary text", name, len(value), MinValueLen)
	case len(value) > MaxValueLen:
		return fmt.Errorf("secret %s is %d bytes; at most %d are kept", name, len(value), MaxValueLen)
	case strings.ContainsRune(value, 0):
		return fmt.Errorf("secret %s contains a NUL byte, which no environment variable can hold", name)
	}
	return nil
}

// File is where a project keeps an environment's secrets: next to
// belay.yaml, in secrets/<environment>.age.
func File(projectFile, env string) string {
	return filepath.Join(filepath.Dir(projectFile), "secrets", env+".age")
}

// Keyring is the server's identities, one per environment, in a directory
// only its owner reads.
type Keyring struct{ Dir string }

func (k Keyring) path(env string) string { return filepath.Join(k.Dir, env+".key") }

// Identity is env's identity; ok is false when there is none yet.
func (k Keyring) Identity(env string) (id *age.X25519Identity, ok bool, err error) {
	b, err := os.ReadFile(k.path(env))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s's secrets key: %w", env, err)
	}
	ids, err := age.ParseIdentities(bytes.NewReader(b))
	if err != nil || len(ids) != 1 {
		return nil, false, fmt.Errorf("%s is not one age identity (%v): restore it from your backup of the server's home", k.path(env), err)
	}
	x, isX := ids[0].(*age.X25519Identity)
	if !isX {
		return nil, false, fmt.Errorf("%s holds an identity of another kind than X25519", k.path(env))
	}
	return x, true, nil
}

// Ensure is env's identity, made (0600, in a 0700 directory) if missing.
func (k Keyring) Ensure(env string) (*age.X25519Identity, error) {
	if id, ok, err := k.Identity(env); ok || err != nil {
		return id, err
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(k.Dir, 0o700); err != nil {
		return nil, err
	}
	text := fmt.Sprintf("# belay secrets key of environment %s\n# created: %s\n# public key: %s\n%s\n",
		env, time.Now().UTC().Format(time.RFC3339), id.Recipient(), id)
	if err := atomicfile.Write(k.path(env), []byte(text), 0o600); err != nil {
		return nil, err
	}
	return id, nil
}

// Set is an environment's secrets, by name.
type Set map[string]string

// Names are the secrets' names, sorted.
func (s Set) Names() []string { return slices.Sorted(maps.Keys(s)) }

// Load decrypts the secrets file at path with id. A missing file is an
// empty set; a file that is not age, was encrypted for another key, or holds
// something else than a set of secrets is an error saying which.
func Load(path string, id *age.X25519Identity) (Set, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Set{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	in := io.Reader(f)
	head := make([]byte, len(armor.Header))
	if n, _ := io.ReadFull(f, head); n > 0 {
		in = io.MultiReader(bytes.NewReader(head[:n]), f)
		if string(head[:n]) == armor.Header {
			in = armor.NewReader(in)
		}
	}
	if id == nil {
		return nil, fmt.Errorf("%s exists, but this server has no key for it: it was encrypted elsewhere; copy that server's key to decrypt it, or remove the file and set the secrets again", path)
	}
	r, err := age.Decrypt(in, id)
	var noMatch *age.NoIdentityMatchError
	switch {
	case errors.As(err, &noMatch):
		return nil, fmt.Errorf("%s was encrypted for another key than this server's (%s): decrypt it with the key it was made with, or remove it and set the secrets again", path, id.Recipient())
	case err != nil:
		return nil, fmt.Errorf("%s is not an age-encrypted secrets file (%v): restore it from version control", path, err)
	}
	b, err := io.ReadAll(io.LimitReader(r, maxFileLen+1))
	if err != nil {
		return nil, fmt.Errorf("%s is corrupt (%v): restore it from version control", path, err)
	}
	if len(b) > maxFileLen {
		return nil, fmt.Errorf("%s holds more than %d bytes of secrets", path, maxFileLen)
	}
	var s Set
	if err := json.Unmarshal(b, &s); err != nil || s == nil {
		return nil, fmt.Errorf("%s decrypts to something else than a set of secrets: restore it from version control", path)
	}
	for name, v := range s {
		if err := CheckName(name); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if err := CheckValue(name, v); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return s, nil
}

// Save encrypts s for r, armored so that it reads as text in a diff, and
// replaces the file at path atomically: a failure leaves the old file.
func Save(path string, s Set, r age.Recipient) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFunc(path, 0o644, func(w io.Writer) error {
		a := armor.NewWriter(w)
		e, err := age.Encrypt(a, r)
		if err != nil {
			return err
		}
		if _, err := e.Write(b); err != nil {
			return err
		}
		if err := e.Close(); err != nil {
			return err
		}
		return a.Close()
	})
}
