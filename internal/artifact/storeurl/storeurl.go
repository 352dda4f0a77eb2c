// Package storeurl opens an artifact.Store named by a URL, as belay.yaml's
// artifacts.store and the --store flag give it.
package storeurl

import (
	"fmt"
	"strings"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/artifact/layout"
	"github.com/belay-dev/belay/internal/artifact/registry"
)

// Open returns the store for u:
//
//	""                     the OCI layout at defaultDir ($BELAY_HOME/artifacts)
//	oci://host:port/repo   a registry repository (plain HTTP only on loopback)
//	file:///dir or /dir    an OCI layout at dir
//
// An unknown scheme is an error, never a fallback.
func Open(u, defaultDir string) (artifact.Store, error) {
	switch {
	case u == "":
		return layout.New(defaultDir)
	case strings.HasPrefix(u, "oci://"):
		repo := strings.TrimSuffix(strings.TrimPrefix(u, "oci://"), "/")
		if !strings.Contains(repo, "/") {
			return nil, fmt.Errorf("artifact store %q: name a repository, e.g. oci://%s/belay", u, repo)
		}
		return registry.New(repo)
	case strings.HasPrefix(u, "file://"):
		return layout.New(strings.TrimPrefix(u, "file://"))
	case strings.HasPrefix(u, "/") || strings.HasPrefix(u, "."):
		return layout.New(u)
	}
	return nil, fmt.Errorf("artifact store %q: unknown kind: use oci://host:port/repository for a registry or a directory path (file:///dir) for an OCI layout", u)
}
