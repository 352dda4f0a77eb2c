package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// Kubernetes is where a target: kubernetes environment runs its services:
// one namespace of one cluster, with the artifact copied to Registry and
// deployed by digest. It is a plain struct so that the Kubernetes target
// can be built from it as written (defaults applied by Load).
type Kubernetes struct {
	// Kubeconfig is the kubeconfig file (~ is the home directory; a
	// relative path is relative to belay.yaml's directory). Empty: the
	// in-cluster configuration of a server running in a pod.
	Kubeconfig string `yaml:"kubeconfig" json:"kubeconfig,omitempty"`
	// Context is the kubeconfig's context to use; default its current one.
	Context string `yaml:"context" json:"context,omitempty"`
	// Namespace holds the services' Deployments, Services, Secrets and
	// HTTPRoutes; it must exist (belay does not create it).
	Namespace string `yaml:"namespace" json:"namespace" belay:"required"`
	// Registry is the repository prefix (host/path, no tag or digest) the
	// artifact's image is copied to before a deploy: each service's image
	// is REGISTRY/SERVICE, and pods run it by digest.
	Registry string `yaml:"registry" json:"registry" belay:"required"`
	// Traffic is how stable and canary share traffic: gateway (HTTPRoute
	// backend weights; the default when gateway is set) or replicas (the
	// ratio of ready pods behind one Service; the default otherwise).
	Traffic Traffic `yaml:"traffic" json:"traffic"`
	// Gateway is the parent Gateway of each service's HTTPRoute, required
	// with traffic: gateway.
	Gateway *GatewayRef `yaml:"gateway" json:"gateway,omitempty"`
	// AbortCleanup is how long an aborted or rolled back canary's
	// Deployment stays, scaled to zero, before it is deleted; default 5m.
	AbortCleanup Duration `yaml:"abort_cleanup" json:"abort_cleanup"`
	// Replicas is how many pods each version of a service runs here unless
	// the service's environments.NAME.instances says otherwise; default 1.
	Replicas int `yaml:"replicas" json:"replicas,omitempty"`
}

// GatewayRef names a Gateway API Gateway.
type GatewayRef struct {
	Name string `yaml:"name" json:"name" belay:"required"`
	// Namespace is the Gateway's; default the environment's namespace.
	Namespace string `yaml:"namespace" json:"namespace,omitempty"`
}

// DefaultAbortCleanup is how long an aborted canary stays scaled to zero.
const DefaultAbortCleanup = Duration(5 * time.Minute)

// maxAbortCleanup bounds abort_cleanup: a canary left for longer is
// something left behind.
const maxAbortCleanup = Duration(24 * time.Hour)

// KubeconfigFile is the kubeconfig to load, with ~ expanded and a relative
// path taken from dir (belay.yaml's directory); "" means in-cluster.
func (k *Kubernetes) KubeconfigFile(dir string) (string, error) {
	p := k.Kubeconfig
	switch {
	case p == "":
		return "", nil
	case p == "~" || strings.HasPrefix(p, "~/"):
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("kubeconfig %s: %w", p, err)
		}
		return filepath.Join(home, strings.TrimPrefix(p, "~")), nil
	case filepath.IsAbs(p):
		return p, nil
	}
	return filepath.Join(dir, p), nil
}

// GatewayNamespace is the namespace of the parent Gateway.
func (k *Kubernetes) GatewayNamespace() string {
	if k.Gateway == nil || k.Gateway.Namespace == "" {
		return k.Namespace
	}
	return k.Gateway.Namespace
}

// Image is the repository a service's image is copied to in this
// environment (REGISTRY/SERVICE).
func (k *Kubernetes) Image(service string) string {
	return strings.TrimSuffix(k.Registry, "/") + "/" + service
}

func (k *Kubernetes) applyDefaults() {
	if k.Traffic == "" {
		k.Traffic = TrafficReplicas
		if k.Gateway != nil {
			k.Traffic = TrafficGateway
		}
	}
	if k.AbortCleanup == 0 {
		k.AbortCleanup = DefaultAbortCleanup
	}
}

// subdomainRE is a DNS subdomain (RFC 1123), the form of most Kubernetes
// object names.
var subdomainRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

// checkKubernetes checks an environment's target against its kubernetes
// block: each needs the other, and what only the local agent reads (listen,
// hosts) is refused on a cluster rather than ignored.
func (d *decoder) checkKubernetes(path string, e *Environment) {
	k := e.Kubernetes
	if e.Target != TargetKubernetes {
		if d.set(path + ".kubernetes") {
			d.errAt(path+".kubernetes", "kubernetes applies only to an environment with target: kubernetes; add target: kubernetes or remove the block")
		}
		return
	}
	if k == nil {
		d.errAt(path+".target", "target: kubernetes needs a kubernetes: block with at least namespace and registry, e.g. kubernetes: {namespace: shop, registry: registry.example.com/shop}")
		return
	}
	if e.Listen != "" {
		d.errAt(path+".listen", "listen is the local agent's proxy address and does nothing on target: kubernetes, where traffic goes through the service's Service (and HTTPRoute): remove it")
	}
	if d.set(path + ".hosts") {
		d.errAt(path+".hosts", "hosts are agents of the local target; an environment with target: kubernetes runs in its cluster: remove hosts or use target: local")
	}
	kp := path + ".kubernetes"
	if k.Namespace != "" {
		if err := checkName("namespace", k.Namespace); err != nil {
			d.errAt(kp+".namespace", "%v", err)
		}
	}
	if k.Registry != "" {
		if err := checkRegistry(k.Registry); err != nil {
			d.errAt(kp+".registry", "%v", err)
		}
	}
	if k.Context != "" && k.Kubeconfig == "" {
		d.errAt(kp+".context", "context %q needs a kubeconfig: without one belay uses the in-cluster configuration, which has no contexts; add kubeconfig: ~/.kube/config or remove context", k.Context)
	}
	switch {
	case k.Traffic == TrafficGateway && k.Gateway == nil:
		d.errAt(kp+".traffic", "traffic: gateway needs gateway: {name: …, namespace: …}, the Gateway the services' HTTPRoutes attach to")
	case k.Traffic == TrafficReplicas && k.Gateway != nil:
		d.errAt(kp+".gateway", "gateway is set but traffic is replicas, which uses no HTTPRoute: remove gateway or set traffic: gateway")
	}
	if g := k.Gateway; g != nil {
		if g.Name != "" && (len(g.Name) > 253 || !subdomainRE.MatchString(g.Name)) {
			d.errAt(kp+".gateway.name", "gateway name %q is not a Kubernetes object name (lower-case letters, digits, '-' and '.')", g.Name)
		}
		if g.Namespace != "" {
			if err := checkName("namespace", g.Namespace); err != nil {
				d.errAt(kp+".gateway.namespace", "%v", err)
			}
		}
	}
	if d.set(kp+".abort_cleanup") && (k.AbortCleanup < Duration(time.Second) || k.AbortCleanup > maxAbortCleanup) {
		d.errAt(kp+".abort_cleanup", "abort_cleanup %s must be between 1s and 24h: it is how long an aborted canary stays scaled to zero before it is deleted", k.AbortCleanup)
	}
	if d.set(kp+".replicas") && k.Replicas < 1 {
		d.errAt(kp+".replicas", "replicas must be at least 1")
	}
}

// checkRegistry accepts HOST[:PORT]/PATH naming a repository prefix: a tag
// or digest would pin every service's image to one, and a missing host
// would silently mean Docker Hub.
func checkRegistry(s string) error {
	if strings.Contains(s, "@") {
		return fmt.Errorf("registry %q has a digest: give the repository prefix only (e.g. registry.example.com/shop); belay adds SERVICE@sha256:… itself", s)
	}
	last := s[strings.LastIndex(s, "/")+1:]
	if strings.Contains(s, "/") && strings.Contains(last, ":") {
		return fmt.Errorf("registry %q has a tag: give the repository prefix only (e.g. registry.example.com/shop); belay deploys by digest, never by tag", s)
	}
	host, _, _ := strings.Cut(s, "/")
	if !strings.ContainsAny(host, ".:") && host != "localhost" {
		return fmt.Errorf("registry %q does not start with a registry host (e.g. registry.example.com/shop or 127.0.0.1:5000/shop)", s)
	}
	if _, err := name.NewRepository(strings.TrimSuffix(s, "/")+"/svc", name.StrictValidation); err != nil {
		return fmt.Errorf("registry %q is not a repository prefix: %v", s, err)
	}
	return nil
}

// checkKubeAnalysis refuses a service whose analysis would read the
// built-in source in an environment with target: kubernetes: the built-in
// counters are the local agent's proxy's, and a cluster has no such proxy,
// so its rollback triggers and comparison would see nothing. On a cluster
// the analysis reads Prometheus, which scrapes the pods belay annotates.
func (d *decoder) checkKubeAnalysis(p *Project) {
	var kube []string
	for _, e := range p.Environments {
		if e != nil && e.Target == TargetKubernetes {
			kube = append(kube, e.Name)
		}
	}
	if len(kube) == 0 {
		return
	}
	for _, name := range p.serviceOrder {
		s := p.Services[name]
		if s == nil || s.Analysis != nil && s.Analysis.Source == SourcePrometheus {
			continue
		}
		path := "services." + name
		switch {
		case d.set(path + ".analysis.source"):
			path += ".analysis.source"
		case d.set(path + ".analysis"):
			path += ".analysis"
		}
		d.errAt(path, "service %s runs in %s (target: kubernetes), where there are no built-in counters (they are the local agent's proxy's): "+
			"use analysis: {source: prometheus, prometheus: {url: …, queries: …}} with PromQL templates selecting the version label the pods carry "+
			"(belay.dev/version, scraped through their prometheus.io annotations; see docs/kubernetes.md)", name, strings.Join(kube, ", "))
	}
}
