// Package artifact builds, signs, stores and verifies belay's immutable
// release artifacts: runnable OCI images with an SBOM and a signed SLSA
// provenance attached, kept in a Store (an OCI layout or a registry).
package artifact

import (
	"errors"
	"time"
)

// Sentinel errors; wrapped with %w and a message that names what and where.
var (
	ErrNotFound      = errors.New("artifact not found")
	ErrExists        = errors.New("version already published with other content")
	ErrTampered      = errors.New("artifact tampered")
	ErrUnsigned      = errors.New("artifact unsigned")
	ErrUntrusted     = errors.New("artifact signed by an untrusted key")
	ErrDirty         = errors.New("working tree has uncommitted changes")
	ErrBuildFailed   = errors.New("build command failed")
	ErrMissingOutput = errors.New("declared build output missing")
	ErrUnsafeArchive = errors.New("unsafe archive entry")
	ErrBadKey        = errors.New("bad key")
)

// OCI annotation keys belay sets on every image manifest.
const (
	AnnotationRevision = "org.opencontainers.image.revision"
	AnnotationCreated  = "org.opencontainers.image.created"
	AnnotationVersion  = "org.opencontainers.image.version"
	AnnotationSource   = "org.opencontainers.image.source"
	AnnotationTitle    = "org.opencontainers.image.title"
	// AnnotationDirty marks an artifact built from a working tree with
	// uncommitted changes: its revision does not describe its content.
	AnnotationDirty = "dev.belay.artifact.dirty"
)

// Media types of the attachments (referrers of the image manifest).
const (
	MediaTypeSPDX  = "application/spdx+json"
	MediaTypeDSSE  = "application/vnd.dsse.envelope.v1+json"
	MediaTypeEmpty = "application/vnd.oci.empty.v1+json"
)

// Metadata is what an artifact says about itself (its manifest annotations).
type Metadata struct {
	Service string    `json:"service"`
	Version string    `json:"version"`
	Commit  string    `json:"commit"`
	Created time.Time `json:"created"` // the commit time
	Source  string    `json:"source,omitempty"`
	Dirty   bool      `json:"dirty,omitempty"`
}

// Annotations renders m as OCI manifest annotations.
func (m Metadata) Annotations() map[string]string {
	a := map[string]string{
		AnnotationRevision: m.Commit,
		AnnotationCreated:  m.Created.UTC().Format(time.RFC3339),
		AnnotationVersion:  m.Version,
		AnnotationTitle:    m.Service,
	}
	if m.Source != "" {
		a[AnnotationSource] = m.Source
	}
	if m.Dirty {
		a[AnnotationDirty] = "true"
	}
	return a
}

// MetadataFrom reads metadata back from manifest annotations.
func MetadataFrom(a map[string]string) Metadata {
	m := Metadata{
		Service: a[AnnotationTitle],
		Version: a[AnnotationVersion],
		Commit:  a[AnnotationRevision],
		Source:  a[AnnotationSource],
		Dirty:   a[AnnotationDirty] == "true",
	}
	m.Created, _ = time.Parse(time.RFC3339, a[AnnotationCreated])
	return m
}

// VersionName is the case study's artifact name: service-YYYY.MM.DD-shortsha,
// dated by the commit so the same commit always gets the same name.
func VersionName(service string, commitTime time.Time, commit string) string {
	short := commit
	if len(short) > 7 {
		short = short[:7]
	}
	return service + "-" + commitTime.UTC().Format("2006.01.02") + "-" + short
}
