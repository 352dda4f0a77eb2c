package artifact

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/belay-dev/belay/internal/event"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotation on signature attachments naming the signing key.
const AnnotationKeyID = "dev.belay.signature.keyid"

// PublishOptions are Publish's collaborators; only Signer is required.
type PublishOptions struct {
	Signer   *Signer
	Recorder Recorder   // optional: the state store
	Events   event.Sink // optional: where artifact_published goes
	Progress io.Writer
}

// Published says what Publish did.
type Published struct {
	Version string    `json:"version"`
	Digest  string    `json:"digest"`
	Signer  string    `json:"signer"`
	Store   string    `json:"store"`
	BuiltAt time.Time `json:"built_at"`
	Dirty   bool      `json:"dirty,omitempty"`
	// Existing is true when the same content was already published.
	Existing bool `json:"existing,omitempty"`
	// Refs are the git refs this build came from, as its signed provenance
	// records them; RefsAdded, for an existing artifact, those no earlier
	// provenance had, which another signed provenance now records.
	Refs      []string `json:"refs,omitempty"`
	RefsAdded []string `json:"refs_added,omitempty"`
}

// Publish stores the image, its SBOM and its signed provenance, then tags it
// with its version — last, so a tag always names a complete artifact. A
// version already naming other content is refused; the same content again
// is a no-op.
func Publish(ctx context.Context, s Store, b *Built, opts PublishOptions) (*Published, error) {
	if opts.Signer == nil {
		return nil, fmt.Errorf("%w: publishing %s needs a signing key: create one with `belay keys create`", ErrUnsigned, b.Meta.Version)
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	p := &Published{Version: b.Meta.Version, Digest: b.Digest.String(), Signer: opts.Signer.ID, Store: fmt.Sprint(s), BuiltAt: b.Finished, Dirty: b.Meta.Dirty, Refs: b.Refs}
	old, err := s.Resolve(ctx, b.Meta.Version)
	switch {
	case err == nil && old.Digest == b.Digest:
		p.Existing = true
		if p.RefsAdded, err = attestRefs(ctx, s, b, opts.Signer); err != nil {
			return nil, err
		}
		// Record again (idempotent there) in case an earlier run published
		// but could not record; the event was emitted then.
		return p, record(ctx, b, p, PublishOptions{Recorder: opts.Recorder})
	case err == nil:
		return nil, fmt.Errorf("%w: %s is %s in %v, the new build is %s: a version can never be re-pointed; commit the change to get a new version", ErrExists, b.Meta.Version, old.Digest, s, b.Digest)
	case !errors.Is(err, ErrNotFound):
		return nil, err
	}
	fmt.Fprintf(opts.Progress, "publish %s: writing image %s to %v\n", b.Meta.Version, b.Digest, s)
	subject, err := putImage(ctx, s, b.Image)
	if err != nil {
		return nil, fmt.Errorf("publish %s to %v: %w", b.Meta.Version, s, err)
	}
	atts, err := attachments(b, subject, opts.Signer)
	if err != nil {
		return nil, err
	}
	var descs []v1.Descriptor
	for _, a := range atts {
		if err := a.put(ctx, s); err != nil {
			return nil, fmt.Errorf("publish %s attachments to %v: %w", b.Meta.Version, s, err)
		}
		descs = append(descs, a.desc)
	}
	if err := addReferrers(ctx, s, b.Digest, descs...); err != nil {
		return nil, fmt.Errorf("publish %s referrers to %v: %w", b.Meta.Version, s, err)
	}
	raw, _ := b.Image.RawManifest()
	if err := s.PutManifest(ctx, subject, raw, b.Meta.Version); err != nil {
		return nil, fmt.Errorf("tag %s in %v: %w", b.Meta.Version, s, err)
	}
	return p, record(ctx, b, p, opts)
}

func record(ctx context.Context, b *Built, p *Published, opts PublishOptions) error {
	if opts.Recorder != nil {
		r := Record{Digest: p.Digest, Version: p.Version, Service: b.Meta.Service, Commit: b.Meta.Commit, BuiltAt: p.BuiltAt,
			CommittedAt: b.Meta.Created, Signer: p.Signer, Dirty: p.Dirty}
		if err := opts.Recorder.RecordArtifact(ctx, r); err != nil {
			return fmt.Errorf("record artifact %s: %w", p.Version, err)
		}
	}
	if opts.Events != nil {
		ev, _ := json.Marshal(map[string]any{"commit": b.Meta.Commit, "signer": p.Signer, "store": p.Store, "dirty": p.Dirty, "built_at": p.BuiltAt})
		e := event.Event{ID: "artifact/" + b.Meta.Service + "/" + p.Digest, Event: event.ArtifactPublished, Time: p.BuiltAt,
			Service: b.Meta.Service, Version: p.Version, Digest: p.Digest, Evidence: ev}
		if err := opts.Events.Emit(ctx, e); err != nil {
			return fmt.Errorf("emit %s for %s: %w", event.ArtifactPublished, p.Version, err)
		}
	}
	return nil
}

// putImage writes config, layers and manifest (untagged) and returns the
// manifest's descriptor.
func putImage(ctx context.Context, s Store, img v1.Image) (v1.Descriptor, error) {
	m, err := img.Manifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return v1.Descriptor{}, err
	}
	if err := s.PutBlob(ctx, m.Config, bytesReader(cfg)); err != nil {
		return v1.Descriptor{}, err
	}
	for _, ld := range m.Layers {
		l, err := img.LayerByDigest(ld.Digest)
		if err != nil {
			return v1.Descriptor{}, err
		}
		rc, err := l.Compressed()
		if err != nil {
			return v1.Descriptor{}, err
		}
		err = s.PutBlob(ctx, ld, rc)
		rc.Close()
		if err != nil {
			return v1.Descriptor{}, err
		}
	}
	raw, err := img.RawManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	d := descriptorOf(types.OCIManifestSchema1, raw)
	return d, s.PutManifest(ctx, d, raw, "")
}

// attachments makes the SBOM and the signed provenance referrers.
func attachments(b *Built, subject v1.Descriptor, signer *Signer) ([]attachment, error) {
	created := map[string]string{AnnotationCreated: b.Meta.Created.UTC().Format(time.RFC3339)}
	sbom, err := newAttachment(subject, MediaTypeSPDX, b.SBOM, created)
	if err != nil {
		return nil, err
	}
	sig, err := signedProvenance(b, subject, signer)
	if err != nil {
		return nil, err
	}
	return []attachment{sbom, sig}, nil
}

// signedProvenance is the DSSE envelope of b's provenance, as an attachment.
func signedProvenance(b *Built, subject v1.Descriptor, signer *Signer) (attachment, error) {
	stmt, err := provenanceStatement(b)
	if err != nil {
		return attachment{}, err
	}
	env, err := json.Marshal(signer.Sign(PayloadTypeInToto, stmt))
	if err != nil {
		return attachment{}, err
	}
	return newAttachment(subject, MediaTypeDSSE, env, map[string]string{
		AnnotationCreated: b.Finished.Format(time.RFC3339), AnnotationKeyID: signer.ID,
	})
}

// attestRefs attaches another signed provenance to an artifact already
// published when this build of the same bytes comes from refs that no
// provenance signed by this key records yet (the commit was since tagged,
// or built from another branch): the version stays, and a protected
// environment's branch and tag rule sees the new refs. It returns them.
func attestRefs(ctx context.Context, s Store, b *Built, signer *Signer) ([]string, error) {
	if len(b.Refs) == 0 {
		return nil, nil
	}
	var have []string
	rep, err := Verify(ctx, s, b.Meta.Version, []PublicKey{signer.Public()})
	switch {
	case err == nil:
		have = rep.Refs
	case !errors.Is(err, ErrUntrusted) && !errors.Is(err, ErrUnsigned):
		return nil, fmt.Errorf("record the refs of %s: %w", b.Meta.Version, err)
	}
	var added []string
	for _, r := range b.Refs {
		if !slices.Contains(have, r) {
			added = append(added, r)
		}
	}
	if len(added) == 0 {
		return nil, nil
	}
	raw, err := b.Image.RawManifest()
	if err != nil {
		return nil, err
	}
	subject := descriptorOf(types.OCIManifestSchema1, raw)
	sig, err := signedProvenance(b, subject, signer)
	if err != nil {
		return nil, err
	}
	if err := sig.put(ctx, s); err != nil {
		return nil, fmt.Errorf("record the refs of %s in %v: %w", b.Meta.Version, s, err)
	}
	if err := addReferrers(ctx, s, subject.Digest, sig.desc); err != nil {
		return nil, fmt.Errorf("record the refs of %s in %v: %w", b.Meta.Version, s, err)
	}
	return added, nil
}
