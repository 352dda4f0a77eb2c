package secret

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
)

// Store is the server's view of a project's secrets: the files next to
// belay.yaml and the keys that open them. Everything it decrypts is added
// to Redactor.
type Store struct {
	Keys        Keyring
	ProjectFile string
	Redactor    *Redactor
	mu          sync.Mutex // one change at a time
}

// Path is env's secrets file.
func (s *Store) Path(env string) string { return File(s.ProjectFile, env) }

// Read is env's secrets; none when the environment has no file yet.
func (s *Store) Read(env string) (Set, error) {
	id, _, err := s.Keys.Identity(env)
	if err != nil {
		return nil, err
	}
	set, err := Load(s.Path(env), id)
	if err != nil {
		return nil, err
	}
	s.Redactor.AddAll(set)
	return set, nil
}

// Values are the named secrets of env; an error lists those not set.
func (s *Store) Values(env string, names []string) (map[string]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	set, err := s.Read(env)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(names))
	var missing []string
	for _, n := range names {
		v, ok := set[n]
		if !ok {
			missing = append(missing, n)
			continue
		}
		out[n] = v
	}
	if len(missing) > 0 {
		return nil, &MissingError{Env: env, Names: missing}
	}
	return out, nil
}

// MissingError names secrets a service needs that env does not have.
type MissingError struct {
	Env   string
	Names []string
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("secrets %s are not set in %s: set each with `belay secrets set NAME --env %s`",
		strings.Join(e.Names, ", "), e.Env, e.Env)
}

// Change applies f to env's secrets and saves them, encrypted for env's
// key (made on the first change). record runs after the file is written;
// when it fails the file is put back as it was, so a change that could not
// be recorded did not happen.
func (s *Store) Change(env string, f func(Set) error, record func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.Keys.Ensure(env)
	if err != nil {
		return err
	}
	path := s.Path(env)
	old, err := os.ReadFile(path)
	existed := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	set, err := Load(path, id)
	if err != nil {
		return err
	}
	s.Redactor.AddAll(set)
	if err := f(set); err != nil {
		return err
	}
	s.Redactor.AddAll(set)
	if err := Save(path, set, id.Recipient()); err != nil {
		return err
	}
	if err := record(); err != nil {
		if existed {
			err = errors.Join(err, os.WriteFile(path, old, 0o644))
		} else {
			err = errors.Join(err, os.Remove(path))
		}
		return err
	}
	return nil
}

// Fingerprint identifies a value in the audit log without revealing it:
// an HMAC keyed by env's identity, so that it cannot be checked against
// guesses without that key (as Vault's audit log hashes values).
func (s *Store) Fingerprint(env, value string) string {
	id, ok, err := s.Keys.Identity(env)
	if err != nil || !ok {
		return ""
	}
	m := hmac.New(sha256.New, []byte(id.String()))
	m.Write([]byte(value))
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))[:16]
}
