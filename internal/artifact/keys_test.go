package artifact

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCreateKeyLoadAndModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	kf, err := CreateKey(dir, "ci")
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(kf.Private)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode %v, want 0600", st.Mode().Perm())
	}
	s, err := LoadSigner(kf.Private)
	if err != nil {
		t.Fatal(err)
	}
	p, err := LoadPublicKey(kf.Public)
	if err != nil {
		t.Fatal(err)
	}
	if s.ID != kf.ID || p.ID != kf.ID || len(kf.ID) != 16 {
		t.Fatalf("ids: signer %s public %s created %s", s.ID, p.ID, kf.ID)
	}
	if _, err := CreateKey(dir, "ci"); err == nil {
		t.Fatal("CreateKey overwrote an existing key")
	}
	if _, err := LoadSigner(kf.Public); !errors.Is(err, ErrBadKey) {
		t.Fatalf("loading a public key as private: %v", err)
	}
	if _, err := LoadSigner(filepath.Join(dir, "nope.key")); !errors.Is(err, ErrBadKey) {
		t.Fatalf("missing key: %v", err)
	}
}
