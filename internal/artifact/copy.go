package artifact

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Copied says what Copy did.
type Copied struct {
	Version string `json:"version"`
	Digest  string `json:"digest"`
	To      string `json:"to"`
	// Referrers are the attachments (signatures, SBOM) copied with it.
	Referrers int `json:"referrers"`
	// Existing is true when the destination already had the artifact and
	// every attachment: nothing was written.
	Existing bool `json:"existing,omitempty"`
}

// Copy copies an artifact (by version or sha256: digest) from src to dst
// with its referrers, so that Verify passes there with the same keys. Every
// byte read is checked against its digest before it is written, the
// manifest is copied as it is (its digest never changes) and the version tag
// is written last, so that a tag in dst always names a complete artifact.
// Copying again is a no-op.
func Copy(ctx context.Context, src Store, ref string, dst Store) (*Copied, error) {
	desc, err := resolveRef(ctx, src, ref)
	if err != nil {
		return nil, err
	}
	raw, err := fetchVerified(ctx, src, desc, "manifest of "+ref)
	if err != nil {
		return nil, err
	}
	var m ociManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: manifest of %s is not an OCI manifest: %v", ErrTampered, ref, err)
	}
	version := MetadataFrom(m.Annotations).Version
	idx, err := readReferrers(ctx, src, desc.Digest)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	c := &Copied{Version: version, Digest: desc.Digest.String(), To: fmt.Sprint(dst), Referrers: len(idx.Manifests)}
	if done, err := copied(ctx, dst, version, desc.Digest, idx.Manifests); err != nil || done {
		c.Existing = done
		return c, err
	}
	if err := copyManifest(ctx, src, dst, desc, raw, m); err != nil {
		return nil, fmt.Errorf("copy %s to %v: %w", ref, dst, err)
	}
	for _, d := range idx.Manifests {
		araw, err := fetchVerified(ctx, src, d, "attachment "+d.Digest.String()+" of "+ref)
		if err != nil {
			return nil, err
		}
		var am ociManifest
		if err := json.Unmarshal(araw, &am); err != nil {
			return nil, fmt.Errorf("%w: attachment %s of %s: %v", ErrTampered, d.Digest, ref, err)
		}
		if err := copyManifest(ctx, src, dst, d, araw, am); err != nil {
			return nil, fmt.Errorf("copy attachment %s of %s to %v: %w", d.Digest, ref, dst, err)
		}
	}
	if err := addReferrers(ctx, dst, desc.Digest, idx.Manifests...); err != nil {
		return nil, fmt.Errorf("copy the referrers of %s to %v: %w", ref, dst, err)
	}
	if version != "" {
		if err := dst.PutManifest(ctx, desc, raw, version); err != nil {
			return nil, fmt.Errorf("tag %s in %v: %w", version, dst, err)
		}
	}
	// The digest is the artifact's identity: what dst serves must be it.
	check := desc.Digest.String()
	if version != "" {
		check = version
	}
	got, err := resolveRef(ctx, dst, check)
	if err != nil {
		return nil, err
	}
	if _, err := fetchVerified(ctx, dst, got, "copied manifest of "+ref); err != nil || got.Digest != desc.Digest {
		return nil, fmt.Errorf("%w: %s in %v is %s after the copy, not %s (%v)", ErrTampered, check, dst, got.Digest, desc.Digest, err)
	}
	return c, nil
}

// copied reports whether dst already names digest by version and has every
// referrer in its index (then there is nothing to copy).
func copied(ctx context.Context, dst Store, version string, digest v1.Hash, refs []v1.Descriptor) (bool, error) {
	if version == "" {
		return false, nil
	}
	d, err := dst.Resolve(ctx, version)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	case d.Digest != digest:
		return false, fmt.Errorf("%w: %s is %s in %v, not %s: a version can never be re-pointed", ErrExists, version, d.Digest, dst, digest)
	}
	idx, err := readReferrers(ctx, dst, digest)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, err
	}
	for _, r := range refs {
		if !slices.ContainsFunc(idx.Manifests, func(x v1.Descriptor) bool { return x.Digest == r.Digest }) {
			return false, nil
		}
	}
	return true, nil
}

// copyManifest copies a manifest's config and layers, then the manifest
// (untagged).
func copyManifest(ctx context.Context, src, dst Store, desc v1.Descriptor, raw []byte, m ociManifest) error {
	for _, b := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		if err := copyBlob(ctx, src, dst, b); err != nil {
			return err
		}
	}
	return dst.PutManifest(ctx, desc, raw, "")
}

func copyBlob(ctx context.Context, src, dst Store, d v1.Descriptor) error {
	rc, err := src.Fetch(ctx, d)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: blob %s is missing from %v", ErrTampered, d.Digest, src)
		}
		return err
	}
	defer rc.Close()
	return dst.PutBlob(ctx, d, &checkedReader{r: rc, h: sha256.New(), want: d})
}

// checkedReader fails at the end of a blob whose bytes do not hash to its
// digest, so that a writer never completes a blob that lies.
type checkedReader struct {
	r    io.Reader
	h    hash.Hash
	n    int64
	want v1.Descriptor
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	if errors.Is(err, io.EOF) {
		if cerr := checkDigest(c.want, v1.Descriptor{Digest: hashOf(c.h), Size: c.n}, "blob "+c.want.Digest.String()); cerr != nil {
			return n, cerr
		}
	}
	return n, err
}
