package artifact

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ociManifest is an OCI image manifest with the 1.1 fields (artifactType,
// subject) that attachments use.
type ociManifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     types.MediaType   `json:"mediaType"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        v1.Descriptor     `json:"config"`
	Layers        []v1.Descriptor   `json:"layers"`
	Subject       *v1.Descriptor    `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// emptyConfig is the OCI empty descriptor's content.
var emptyConfig = []byte("{}")

func descriptorOf(mt types.MediaType, b []byte) v1.Descriptor {
	h, n, _ := v1.SHA256(bytes.NewReader(b))
	return v1.Descriptor{MediaType: mt, Digest: h, Size: n}
}

// attachment is one referrer of an image: a manifest with one blob.
type attachment struct {
	manifest []byte
	desc     v1.Descriptor // of the manifest, with artifactType and annotations
	blob     []byte
	blobDesc v1.Descriptor
}

func newAttachment(subject v1.Descriptor, artifactType string, blob []byte, ann map[string]string) (attachment, error) {
	a := attachment{blob: blob, blobDesc: descriptorOf(types.MediaType(artifactType), blob)}
	m := ociManifest{
		SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: artifactType,
		Config: descriptorOf(MediaTypeEmpty, emptyConfig), Layers: []v1.Descriptor{a.blobDesc},
		Subject: &subject, Annotations: ann,
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return a, err
	}
	a.manifest = raw
	a.desc = descriptorOf(types.OCIManifestSchema1, raw)
	a.desc.ArtifactType, a.desc.Annotations = artifactType, ann
	return a, nil
}

func (a attachment) put(ctx context.Context, s Store) error {
	if err := s.PutBlob(ctx, descriptorOf(MediaTypeEmpty, emptyConfig), bytes.NewReader(emptyConfig)); err != nil {
		return err
	}
	if err := s.PutBlob(ctx, a.blobDesc, bytes.NewReader(a.blob)); err != nil {
		return err
	}
	return s.PutManifest(ctx, a.desc, a.manifest, "")
}

// addReferrers merges descriptors into the subject's fallback-tag index
// (some registry clients maintain it themselves on push: merging keeps one
// entry per digest either way).
func addReferrers(ctx context.Context, s Store, subject v1.Hash, add ...v1.Descriptor) error {
	idx, err := readReferrers(ctx, s, subject)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	changed := false
	for _, d := range add {
		if !slices.ContainsFunc(idx.Manifests, func(x v1.Descriptor) bool { return x.Digest == d.Digest }) {
			idx.Manifests = append(idx.Manifests, d)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	slices.SortFunc(idx.Manifests, func(a, b v1.Descriptor) int { return strings.Compare(a.Digest.String(), b.Digest.String()) })
	raw, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return s.PutManifest(ctx, descriptorOf(types.OCIImageIndex, raw), raw, fallbackTag(subject))
}

// readReferrers reads the fallback-tag index of subject, checking its digest.
func readReferrers(ctx context.Context, s Store, subject v1.Hash) (v1.IndexManifest, error) {
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	d, err := s.Resolve(ctx, fallbackTag(subject))
	if err != nil {
		return idx, err
	}
	raw, err := fetchVerified(ctx, s, d, "referrers index "+fallbackTag(subject))
	if err != nil {
		return idx, err
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		return idx, fmt.Errorf("%w: referrers index %s: %v", ErrTampered, fallbackTag(subject), err)
	}
	return idx, nil
}

// fetchVerified reads a manifest or small blob whole and checks its digest
// (and size, when known); what names it in errors.
func fetchVerified(ctx context.Context, s Store, d v1.Descriptor, what string) ([]byte, error) {
	rc, err := s.Fetch(ctx, d)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("%w: %s (%s) is missing from the store", ErrTampered, what, d.Digest)
		}
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read %s (%s): %w", what, d.Digest, err)
	}
	if err := checkDigest(d, descriptorOf("", b), what); err != nil {
		return nil, err
	}
	return b, nil
}

func checkDigest(want, got v1.Descriptor, what string) error {
	if got.Digest != want.Digest {
		return fmt.Errorf("%w: %s changed: expected %s, content hashes to %s", ErrTampered, what, want.Digest, got.Digest)
	}
	if want.Size > 0 && got.Size != want.Size {
		return fmt.Errorf("%w: %s changed: expected %d bytes, found %d", ErrTampered, what, want.Size, got.Size)
	}
	return nil
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
