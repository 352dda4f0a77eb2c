package artifact

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Info is one artifact as listed: its metadata, digest and who signed it
// (as the attachment says; Verify checks it).
type Info struct {
	Metadata
	Digest string `json:"digest"`
	Signer string `json:"signer,omitempty"` // key id, "" when unsigned
}

// List returns the artifacts of a store, oldest commit first. It reads
// manifests (checking their digests) but not layers: Verify does that.
func List(ctx context.Context, s Store) ([]Info, error) {
	tags, err := s.Tags(ctx)
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, tag := range tags {
		if isFallbackTag(tag) {
			continue
		}
		d, err := s.Resolve(ctx, tag)
		if err != nil {
			return nil, err
		}
		raw, err := fetchVerified(ctx, s, d, "manifest of "+tag)
		if err != nil {
			return nil, err
		}
		var m ociManifest
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("%w: manifest of %s: %v", ErrTampered, tag, err)
		}
		info := Info{Metadata: MetadataFrom(m.Annotations), Digest: d.Digest.String()}
		if idx, err := readReferrers(ctx, s, d.Digest); err == nil {
			for _, a := range idx.Manifests {
				if a.ArtifactType == MediaTypeDSSE && a.Annotations[AnnotationKeyID] != "" {
					info.Signer = a.Annotations[AnnotationKeyID]
				}
			}
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b Info) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.Version, b.Version)
	})
	return out, nil
}
