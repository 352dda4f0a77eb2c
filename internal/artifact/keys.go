package artifact

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// PublicKey is a trusted ed25519 verification key with its id.
type PublicKey struct {
	ID  string
	Key ed25519.PublicKey
}

// Signer signs DSSE payloads with an ed25519 private key.
type Signer struct {
	ID  string
	key ed25519.PrivateKey
}

// Public returns the signer's public key.
func (s *Signer) Public() PublicKey {
	return PublicKey{ID: s.ID, Key: s.key.Public().(ed25519.PublicKey)}
}

// KeyID is the short id of a public key: the first 16 hex digits of the
// SHA-256 of its PKIX (DER) encoding.
func KeyID(pub ed25519.PublicKey) string {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])[:16]
}

// KeyFiles are the paths CreateKey wrote.
type KeyFiles struct {
	ID      string `json:"id"`
	Private string `json:"private"`
	Public  string `json:"public"`
}

// CreateKey writes a new ed25519 key pair as dir/name.key (PKCS#8 PEM, mode
// 0600) and dir/name.pub (PKIX PEM). Existing files are never overwritten.
func CreateKey(dir, name string) (KeyFiles, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return KeyFiles{}, err
	}
	kf := KeyFiles{ID: KeyID(pub), Private: filepath.Join(dir, name+".key"), Public: filepath.Join(dir, name+".pub")}
	for _, p := range []string{kf.Private, kf.Public} {
		if _, err := os.Stat(p); err == nil {
			return KeyFiles{}, fmt.Errorf("key file %s already exists: choose another name (--name) or remove it", p)
		}
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return KeyFiles{}, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return KeyFiles{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return KeyFiles{}, fmt.Errorf("create key directory: %w", err)
	}
	if err := writeExcl(kf.Private, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), 0o600); err != nil {
		return KeyFiles{}, err
	}
	if err := writeExcl(kf.Public, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		return KeyFiles{}, err
	}
	return kf, nil
}

func writeExcl(path string, b []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write key %s: %w", path, err)
	}
	return f.Close()
}

// LoadSigner reads a PKCS#8 PEM ed25519 private key file.
func LoadSigner(path string) (*Signer, error) {
	block, err := readPEM(path, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(block)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadKey, path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s: not an ed25519 key (%T): create one with `belay keys create`", ErrBadKey, path, k)
	}
	return &Signer{ID: KeyID(priv.Public().(ed25519.PublicKey)), key: priv}, nil
}

// LoadPublicKey reads a PKIX PEM ed25519 public key file.
func LoadPublicKey(path string) (PublicKey, error) {
	block, err := readPEM(path, "PUBLIC KEY")
	if err != nil {
		return PublicKey{}, err
	}
	return ParsePublicKey(block, path)
}

// ParsePublicKey parses a DER (PKIX) ed25519 public key; where names it in errors.
func ParsePublicKey(der []byte, where string) (PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return PublicKey{}, fmt.Errorf("%w: %s: %v", ErrBadKey, where, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return PublicKey{}, fmt.Errorf("%w: %s: not an ed25519 key (%T)", ErrBadKey, where, k)
	}
	return PublicKey{ID: KeyID(pub), Key: pub}, nil
}

// LoadPublicKeys reads each trusted key file.
func LoadPublicKeys(paths ...string) ([]PublicKey, error) {
	var out []PublicKey
	for _, p := range paths {
		k, err := LoadPublicKey(p)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

func readPEM(path, typ string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: key file %s does not exist: create one with `belay keys create`", ErrBadKey, path)
		}
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != typ {
		return nil, fmt.Errorf("%w: %s: no PEM %q block", ErrBadKey, path, typ)
	}
	return block.Bytes, nil
}
