package artifact

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
)

// PayloadTypeInToto is the DSSE payload type of in-toto statements.
const PayloadTypeInToto = "application/vnd.in-toto+json"

// Envelope is a DSSE envelope.
type Envelope struct {
	Payload     string      `json:"payload"` // base64 (standard)
	PayloadType string      `json:"payloadType"`
	Signatures  []Signature `json:"signatures"`
}

// Signature is one DSSE signature.
type Signature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"` // base64 (standard)
}

// PAE is DSSE's pre-authentication encoding, the bytes actually signed:
// "DSSEv1" SP len(type) SP type SP len(body) SP body, lengths in ASCII decimal.
func PAE(payloadType string, body []byte) []byte {
	b := []byte("DSSEv1 ")
	b = strconv.AppendInt(b, int64(len(payloadType)), 10)
	b = append(b, ' ')
	b = append(b, payloadType...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, ' ')
	return append(b, body...)
}

// Sign wraps payload in a DSSE envelope signed by s.
func (s *Signer) Sign(payloadType string, payload []byte) Envelope {
	sig := ed25519.Sign(s.key, PAE(payloadType, payload))
	return Envelope{
		Payload:     base64.StdEncoding.EncodeToString(payload),
		PayloadType: payloadType,
		Signatures:  []Signature{{KeyID: s.ID, Sig: base64.StdEncoding.EncodeToString(sig)}},
	}
}

// Verify checks that one signature comes from a trusted key and returns the
// payload and that key's id. Signatures only by unknown keys give
// ErrUntrusted; a trusted key id whose signature does not verify gives
// ErrTampered.
func (e Envelope) Verify(trusted []PublicKey) (payload []byte, keyID string, err error) {
	if len(e.Signatures) == 0 {
		return nil, "", fmt.Errorf("%w: the DSSE envelope has no signature", ErrUnsigned)
	}
	payload, err = base64.StdEncoding.DecodeString(e.Payload)
	if err != nil {
		return nil, "", fmt.Errorf("%w: DSSE payload is not base64: %v", ErrTampered, err)
	}
	msg := PAE(e.PayloadType, payload)
	var seen []string
	var bad error
	for _, s := range e.Signatures {
		seen = append(seen, s.KeyID)
		for _, k := range trusted {
			if k.ID != s.KeyID {
				continue
			}
			sig, err := base64.StdEncoding.DecodeString(s.Sig)
			if err == nil && ed25519.Verify(k.Key, msg, sig) {
				return payload, k.ID, nil
			}
			bad = fmt.Errorf("%w: signature by key %s does not verify: the signed provenance or the signature changed", ErrTampered, k.ID)
		}
	}
	if bad != nil {
		return nil, "", bad
	}
	ids := make([]string, len(trusted))
	for i, k := range trusted {
		ids[i] = k.ID
	}
	return nil, "", fmt.Errorf("%w: signed by %v, trusted keys are %v: add the signer's public key to artifacts.trusted_keys in belay.yaml", ErrUntrusted, seen, ids)
}

// ParseEnvelope decodes a DSSE envelope.
func ParseEnvelope(b []byte) (Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("%w: signature attachment is not a DSSE envelope: %v", ErrTampered, err)
	}
	return e, nil
}
