package artifact

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// OCI annotations naming the base image an artifact's layer sits on.
const (
	AnnotationBaseDigest = "org.opencontainers.image.base.digest"
	AnnotationBaseName   = "org.opencontainers.image.base.name"
)

// ErrBase is a base image that cannot be used: not by digest, not found, an
// index, or bytes that do not match their digest.
var ErrBase = errors.New("base image")

// Base is the image an artifact's layer goes on top of, read by digest.
type Base struct {
	Ref    string  // as written: REGISTRY/REPO@sha256:…
	Digest v1.Hash // its manifest digest, checked against what was read
	Image  v1.Image
}

// ParseBase accepts REGISTRY/REPO@sha256:… and nothing else: a tag can be
// moved to other bytes, and the base is part of what the signature covers.
func ParseBase(ref string) (name.Digest, error) {
	if !strings.Contains(ref, "@") {
		return name.Digest{}, fmt.Errorf("%w %q is not by digest: a tag can later name other bytes; pin it as REPO@sha256:… (e.g. `crane digest %s`)", ErrBase, ref, ref)
	}
	d, err := name.NewDigest(ref, name.StrictValidation)
	if err != nil {
		return name.Digest{}, fmt.Errorf("%w %q: %v; write REGISTRY/REPO@sha256:<64 hex digits>", ErrBase, ref, err)
	}
	if repo, _, _ := strings.Cut(ref, "@"); strings.Contains(repo[strings.LastIndex(repo, "/")+1:], ":") {
		return name.Digest{}, fmt.Errorf("%w %q has both a tag and a digest: drop the tag, the digest alone names the bytes", ErrBase, ref)
	}
	return d, nil
}

// FetchBase reads a base image by digest from its registry (plain HTTP only
// on loopback and private addresses, as go-containerregistry decides). The
// manifest must be one platform's image whose digest is the one asked for;
// layers are checked against their digests as they are read.
func FetchBase(ctx context.Context, ref string, opts ...remote.Option) (*Base, error) {
	d, err := ParseBase(ref)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(d, append([]remote.Option{remote.WithContext(ctx)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrBase, ref, err)
	}
	if desc.MediaType.IsIndex() {
		return nil, fmt.Errorf("%w %s is an image index (several platforms): name one platform's manifest digest instead (e.g. `crane digest --platform linux/amd64 %s`)", ErrBase, ref, d.Context())
	}
	img, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrBase, ref, err)
	}
	got, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrBase, ref, err)
	}
	if got.String() != d.DigestStr() {
		return nil, fmt.Errorf("%w %s: the registry served a manifest of digest %s", ErrBase, ref, got)
	}
	if _, err := img.ConfigFile(); err != nil {
		return nil, fmt.Errorf("%w %s: config: %v", ErrBase, ref, err)
	}
	return &Base{Ref: ref, Digest: got, Image: img}, nil
}

// mergeConfig layers belay's run config over the base's: entrypoint, cmd
// and working directory are belay's; env and labels are the base's with
// belay's added (belay's win); belay's default PATH becomes the artifact's
// root then the base's PATH (a PATH set in run.env stays as written);
// exposed ports are both.
func mergeConfig(base, own v1.Config, root string) v1.Config {
	c := base
	c.Entrypoint, c.Cmd, c.WorkingDir = own.Entrypoint, own.Cmd, own.WorkingDir
	env := slices.Clone(base.Env)
	for _, kv := range own.Env {
		k, _, _ := strings.Cut(kv, "=")
		if p := envValue(base.Env, "PATH"); kv == "PATH="+defaultPath(root) && p != "" {
			kv = "PATH=" + root + ":" + p
		}
		env = slices.DeleteFunc(env, func(e string) bool { return strings.HasPrefix(e, k+"=") })
		env = append(env, kv)
	}
	c.Env = env
	if len(base.Labels)+len(own.Labels) > 0 {
		c.Labels = map[string]string{}
		for k, v := range base.Labels {
			c.Labels[k] = v
		}
		for k, v := range own.Labels {
			c.Labels[k] = v
		}
	}
	if len(own.ExposedPorts) > 0 {
		ports := map[string]struct{}{}
		for p := range base.ExposedPorts {
			ports[p] = struct{}{}
		}
		for p := range own.ExposedPorts {
			ports[p] = struct{}{}
		}
		c.ExposedPorts = ports
	}
	return c
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}
