package spec

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// checkBase accepts an image by digest, REGISTRY/REPO@sha256:…, only: a
// tag can later name other bytes than the ones the provenance records.
func checkBase(s string) error {
	repo, digest, ok := strings.Cut(s, "@")
	if !ok {
		return fmt.Errorf("base %q is not by digest: a tag can later name other bytes; pin it as REPO@sha256:… (e.g. the output of `crane digest %s`)", s, s)
	}
	if strings.Contains(repo[strings.LastIndex(repo, "/")+1:], ":") {
		return fmt.Errorf("base %q has both a tag and a digest: drop the tag, the digest alone names the bytes", s)
	}
	if _, err := name.NewDigest(s, name.StrictValidation); err != nil || !strings.HasPrefix(digest, "sha256:") {
		return fmt.Errorf("base %q is not REGISTRY/REPO@sha256:<64 hex digits>", s)
	}
	if host, _, _ := strings.Cut(repo, "/"); !strings.ContainsAny(host, ".:") && host != "localhost" {
		return fmt.Errorf("base %q does not start with a registry host (e.g. docker.io/library/debian@sha256:…)", s)
	}
	return nil
}
