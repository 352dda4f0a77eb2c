package artifact

import (
	"encoding/base64"
	"errors"
	"testing"
)

func TestPAE(t *testing.T) {
	// The DSSE specification's own example.
	got := string(PAE("http://example.com/HelloWorld", []byte("hello world")))
	want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"
	if got != want {
		t.Fatalf("PAE = %q, want %q", got, want)
	}
	if got := string(PAE("", nil)); got != "DSSEv1 0  0 " {
		t.Fatalf("empty PAE = %q", got)
	}
}

func testSigner(t *testing.T, name string) *Signer {
	t.Helper()
	kf, err := CreateKey(t.TempDir(), name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadSigner(kf.Private)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEnvelopeVerify(t *testing.T) {
	s, other := testSigner(t, "a"), testSigner(t, "b")
	env := s.Sign(PayloadTypeInToto, []byte(`{"x":1}`))
	payload, id, err := env.Verify([]PublicKey{other.Public(), s.Public()})
	if err != nil || id != s.ID || string(payload) != `{"x":1}` {
		t.Fatalf("Verify = %q %q %v", payload, id, err)
	}
	if _, _, err := env.Verify([]PublicKey{other.Public()}); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("wrong key: %v", err)
	}
	bad := env
	bad.Payload = base64.StdEncoding.EncodeToString([]byte(`{"x":2}`))
	if _, _, err := bad.Verify([]PublicKey{s.Public()}); !errors.Is(err, ErrTampered) {
		t.Fatalf("changed payload: %v", err)
	}
	bad = env
	bad.PayloadType = "text/plain"
	if _, _, err := bad.Verify([]PublicKey{s.Public()}); !errors.Is(err, ErrTampered) {
		t.Fatalf("changed payload type: %v", err)
	}
	bad = env
	bad.Signatures = nil
	if _, _, err := bad.Verify([]PublicKey{s.Public()}); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("no signature: %v", err)
	}
}

func TestEnvelopeOneGoodSignatureSuffices(t *testing.T) {
	a, b := testSigner(t, "a"), testSigner(t, "b")
	env := a.Sign(PayloadTypeInToto, []byte("p"))
	other := b.Sign(PayloadTypeInToto, []byte("p"))
	broken := Signature{KeyID: b.ID, Sig: env.Signatures[0].Sig} // b's id, a's signature
	env.Signatures = []Signature{broken, env.Signatures[0]}
	if _, id, err := env.Verify([]PublicKey{b.Public(), a.Public()}); err != nil || id != a.ID {
		t.Fatalf("a good signature after a bad one: %q %v", id, err)
	}
	env.Signatures = []Signature{broken}
	if _, _, err := env.Verify([]PublicKey{b.Public()}); !errors.Is(err, ErrTampered) {
		t.Fatalf("only a bad signature: %v", err)
	}
	env.Signatures = other.Signatures
	if _, id, err := env.Verify([]PublicKey{b.Public()}); err != nil || id != b.ID {
		t.Fatalf("b's own signature: %q %v", id, err)
	}
}
