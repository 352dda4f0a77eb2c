package artifact

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Report is what Verify checked.
type Report struct {
	Version string    `json:"version"`
	Digest  string    `json:"digest"`
	Meta    Metadata  `json:"metadata"`
	Config  v1.Config `json:"config"`
	Blobs   int       `json:"blobs_checked"`
	Signer  string    `json:"signer"`
	// Refs are the git refs (refs/heads/…, refs/tags/…) that the trusted
	// signed provenance statements record the artifact was built from:
	// every one of them, since a rebuild from another branch or a new tag
	// attaches another statement. Empty for older artifacts.
	Refs []string `json:"refs,omitempty"`
	// Base is the base image the trusted provenance records (build.base),
	// nil for an artifact built on nothing.
	Base        *ResourceDescriptor `json:"base,omitempty"`
	SBOM        string              `json:"sbom,omitempty"`
	Attachments []v1.Descriptor     `json:"attachments,omitempty"`
	manifest    ociManifest
}

// Verify checks an artifact named by version (or "sha256:…" digest):
// it recomputes the digest of the manifest, config, every layer and every
// attachment, checks that the provenance is signed by a trusted key and that
// its subject is this manifest. Errors wrap ErrTampered (naming what
// changed), ErrUnsigned, ErrUntrusted or ErrNotFound. Once the manifest is
// read, the report comes back with the error, for showing what was found.
func Verify(ctx context.Context, s Store, ref string, trusted []PublicKey) (*Report, error) {
	desc, err := resolveRef(ctx, s, ref)
	if err != nil {
		return nil, err
	}
	r := &Report{Version: ref, Digest: desc.Digest.String()}
	raw, err := fetchVerified(ctx, s, desc, "manifest of "+ref)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &r.manifest); err != nil {
		return nil, fmt.Errorf("%w: manifest of %s is not an OCI manifest: %v", ErrTampered, ref, err)
	}
	r.Meta = MetadataFrom(r.manifest.Annotations)
	if !strings.HasPrefix(ref, "sha256:") && r.Meta.Version != ref {
		return r, fmt.Errorf("%w: tag %s names the manifest of %s (%s)", ErrTampered, ref, r.Meta.Version, desc.Digest)
	}
	r.Version = r.Meta.Version
	cfg, err := fetchVerified(ctx, s, r.manifest.Config, "config of "+ref)
	if err != nil {
		return r, err
	}
	var cf v1.ConfigFile
	if err := json.Unmarshal(cfg, &cf); err != nil {
		return r, fmt.Errorf("%w: config of %s: %v", ErrTampered, ref, err)
	}
	r.Config = cf.Config
	r.Blobs = 2
	for i, l := range r.manifest.Layers {
		if err := verifyBlob(ctx, s, l, fmt.Sprintf("layer %d of %s", i+1, ref)); err != nil {
			return r, err
		}
		r.Blobs++
	}
	if err := verifyAttachments(ctx, s, r, desc.Digest, trusted); err != nil {
		return r, err
	}
	return r, nil
}

func resolveRef(ctx context.Context, s Store, ref string) (v1.Descriptor, error) {
	if strings.HasPrefix(ref, "sha256:") {
		h, err := v1.NewHash(ref)
		if err != nil {
			return v1.Descriptor{}, fmt.Errorf("bad digest %q: %w", ref, err)
		}
		return v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: h}, nil
	}
	d, err := s.Resolve(ctx, ref)
	if errors.Is(err, ErrNotFound) {
		return d, fmt.Errorf("%w: no version %s in %v: see `belay artifacts list`", ErrNotFound, ref, s)
	}
	return d, err
}

// verifyBlob streams a blob through SHA-256.
func verifyBlob(ctx context.Context, s Store, d v1.Descriptor, what string) error {
	rc, err := s.Fetch(ctx, d)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: %s (%s) is missing from the store", ErrTampered, what, d.Digest)
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	return checkDigest(d, v1.Descriptor{Digest: hashOf(h), Size: n}, what)
}

// verifyAttachments checks every referrer's bytes, then the signatures: one
// trusted signature over provenance for this manifest is enough.
func verifyAttachments(ctx context.Context, s Store, r *Report, subject v1.Hash, trusted []PublicKey) error {
	idx, err := readReferrers(ctx, s, subject)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: %s has no signature attached in %v", ErrUnsigned, r.Version, s)
	}
	if err != nil {
		return err
	}
	var envelopes [][]byte
	for _, d := range idx.Manifests {
		what := fmt.Sprintf("%s attachment %s of %s", kindOf(d.ArtifactType), d.Digest, r.Version)
		raw, err := fetchVerified(ctx, s, d, what+" (manifest)")
		if err != nil {
			return err
		}
		var m ociManifest
		if err := json.Unmarshal(raw, &m); err != nil || len(m.Layers) != 1 {
			return fmt.Errorf("%w: %s is not a one-blob artifact manifest", ErrTampered, what)
		}
		if m.Subject == nil || m.Subject.Digest != subject {
			return fmt.Errorf("%w: %s does not refer to %s", ErrTampered, what, subject)
		}
		blob, err := fetchVerified(ctx, s, m.Layers[0], what+" (blob)")
		if err != nil {
			return err
		}
		r.Blobs += 2
		r.Attachments = append(r.Attachments, d)
		switch m.ArtifactType {
		case MediaTypeDSSE:
			envelopes = append(envelopes, blob)
		case MediaTypeSPDX:
			r.SBOM = d.Digest.String()
		}
	}
	return checkSignatures(r, envelopes, subject, trusted)
}

func checkSignatures(r *Report, envelopes [][]byte, subject v1.Hash, trusted []PublicKey) error {
	if len(envelopes) == 0 {
		return fmt.Errorf("%w: %s has no signature attached", ErrUnsigned, r.Version)
	}
	var first error
	for _, b := range envelopes {
		st, id, err := checkEnvelope(b, subject, trusted)
		if err == nil {
			if r.Signer == "" {
				r.Signer = id
			}
			r.Refs = append(r.Refs, refsOf(st)...)
			if b := baseOf(st); b != nil {
				r.Base = b
			}
			continue
		}
		// A tampering error says more than "untrusted": report it first.
		if first == nil || (errors.Is(err, ErrTampered) && !errors.Is(first, ErrTampered)) {
			first = err
		}
	}
	if r.Signer != "" {
		// One trusted signature is enough; the others may add refs.
		slices.Sort(r.Refs)
		r.Refs = slices.Compact(r.Refs)
		return nil
	}
	return fmt.Errorf("signature of %s: %w", r.Version, first)
}

// checkEnvelope verifies one signature envelope: a trusted key signed an
// in-toto statement of SLSA provenance for subject.
func checkEnvelope(b []byte, subject v1.Hash, trusted []PublicKey) (Statement, string, error) {
	env, err := ParseEnvelope(b)
	if err != nil {
		return Statement{}, "", err
	}
	if env.PayloadType != PayloadTypeInToto {
		return Statement{}, "", fmt.Errorf("%w: the signed payload is %q, not an in-toto statement", ErrTampered, env.PayloadType)
	}
	payload, id, err := env.Verify(trusted)
	if err != nil {
		return Statement{}, "", err
	}
	st, err := checkStatement(payload, subject)
	return st, id, err
}

func kindOf(artifactType string) string {
	switch artifactType {
	case MediaTypeDSSE:
		return "signature"
	case MediaTypeSPDX:
		return "SBOM"
	}
	return artifactType
}
