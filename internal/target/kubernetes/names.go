package kubernetes

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/belay-dev/belay/internal/target"
)

// Labels and annotations belay writes.
const (
	LabelName        = "app.kubernetes.io/name"
	LabelManagedBy   = "app.kubernetes.io/managed-by"
	LabelVersion     = "belay.dev/version"
	LabelEnvironment = "belay.dev/environment"
	// LabelServing is on the pods of versions with a weight above zero when
	// traffic follows replicas: the service's Service selects it.
	LabelServing = "belay.dev/serving"
	// AnnotationApplied holds what belay last applied to a Deployment (the
	// fields it owns), which Drift compares the live object with.
	AnnotationApplied = "belay.dev/applied"
	// AnnotationVersion is the version's full name (the label is shortened
	// to a valid label value when needed).
	AnnotationVersion = "belay.dev/version"
	// AnnotationDeleteAfter marks a version taken out of Desired: scaled
	// to zero, its objects deleted once this time (RFC 3339) has passed.
	AnnotationDeleteAfter = "belay.dev/delete-after"
	// AnnotationSecretHash, on the pod template, is a hash of the version's
	// secret values: a rotation rolls the pods.
	AnnotationSecretHash = "belay.dev/secret-hash"
	// AnnotationWeight is the weight Desired gave a version.
	AnnotationWeight = "belay.dev/weight"
)

var (
	dnsLabel   = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	labelValue = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
	invalidDNS = regexp.MustCompile(`[^a-z0-9-]+`)
	digestRef  = regexp.MustCompile(`^([^/@]+)/([^@]+)@sha256:[0-9a-f]{64}$`)
)

func hash(s string, n int) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])[:n]
}

// prefix is the readable part of every object name of one service in one
// environment; it is ambiguous ("a-b"+"c" and "a"+"b-c"), so names add a
// hash of the fields they stand for.
func prefix(env, service string) string { return service + "-" + env }

// base names the service-wide Service and HTTPRoute of one service in one
// environment: <service>-<env>-<hash of both, 6>. Its last part is 6
// characters and a version's 10, so the two never name the same object.
func base(env, service string) string {
	return prefix(env, service) + "-" + hash(service+"/"+env, 6)
}

// objectName is the Deployment, per-version Service and Secret name prefix
// of one version: <service>-<env>-<version>-<hash of the three, 10>, the
// version sanitized and shortened to keep the name within 52 characters
// (room for "-env" and for the pod name suffixes in 63).
func objectName(env, service, version string) string {
	s := strings.Trim(invalidDNS.ReplaceAllString(strings.ToLower(version), "-"), "-")
	if room := max(0, 52-len(prefix(env, service))-12); len(s) > room {
		s = strings.Trim(s[:room], "-")
	}
	name := prefix(env, service) + "-"
	if s != "" {
		name += s + "-"
	}
	return name + hash(service+"/"+env+"/"+version, 10)
}

// versionLabel is the version as a label value.
func versionLabel(version string) string {
	if len(version) <= 63 && labelValue.MatchString(version) {
		return version
	}
	return "h-" + hash(version, 20)
}

func serviceLabels(env, service string) map[string]string {
	return map[string]string{LabelName: service, LabelEnvironment: env, LabelManagedBy: "belay"}
}

func versionLabels(env, service, version string) map[string]string {
	l := serviceLabels(env, service)
	l[LabelVersion] = versionLabel(version)
	return l
}

// validate refuses a Desired the target cannot apply; nothing has been
// changed when it does.
func (t *Target) validate(want target.Desired) error {
	if !dnsLabel.MatchString(want.Service) || !dnsLabel.MatchString(want.Environment) || len(prefix(want.Environment, want.Service)) > 40 {
		return fmt.Errorf("%w: service %q in environment %q: both must be lowercase DNS labels (a-z, 0-9, -) and together at most 40 characters to name Kubernetes objects", target.ErrInvalid, want.Service, want.Environment)
	}
	if want.Shadow != nil {
		return fmt.Errorf("%w: the kubernetes target does not mirror traffic (shadow); leave shadow steps out of this environment's rollout", target.ErrInvalid)
	}
	if want.Logs != nil {
		return fmt.Errorf("%w: the kubernetes target does not ship logs (log_forwarding; the belay agent does): set stack.log_forwarding.enabled: \"false\" in %s and ship the pods' logs with the cluster's own log collector", target.ErrInvalid, want.Environment)
	}
	sum := 0.0
	seen := map[string]bool{}
	for _, v := range want.Versions {
		if v.Version == "" || seen[v.Version] {
			return fmt.Errorf("%w: version %q empty or listed twice", target.ErrInvalid, v.Version)
		}
		seen[v.Version] = true
		if v.Weight < 0 || v.Weight > 100 || v.Instances < 0 {
			return fmt.Errorf("%w: version %s: weight %g or instances %d out of range", target.ErrInvalid, v.Version, v.Weight, v.Instances)
		}
		if v.Instances == 0 && v.Weight > 0 {
			return fmt.Errorf("%w: version %s has weight %g and no instances", target.ErrInvalid, v.Version, v.Weight)
		}
		if err := t.checkImage(v); err != nil {
			return err
		}
		sum += v.Weight
	}
	if len(want.Versions) > 0 && math.Abs(sum-100) > 0.001 {
		return fmt.Errorf("%w: weights add up to %g, not 100", target.ErrInvalid, sum)
	}
	return nil
}

// checkImage accepts an image named by digest, from the configured
// registry when there is one: a tag could be re-pointed to other bytes.
func (t *Target) checkImage(v target.Version) error {
	m := digestRef.FindStringSubmatch(v.Artifact)
	if m == nil {
		return fmt.Errorf("%w: version %s: artifact %q is not an image by digest (REGISTRY/REPOSITORY@sha256:…); belay deploys to Kubernetes by digest only, never by tag — copy the artifact to the environment's registry first", target.ErrArtifact, v.Version, v.Artifact)
	}
	if t.cfg.Registry != "" && m[1] != t.cfg.Registry {
		return fmt.Errorf("%w: version %s: image %s is not in the environment's registry %s; copy it there first", target.ErrArtifact, v.Version, v.Artifact, t.cfg.Registry)
	}
	return nil
}
