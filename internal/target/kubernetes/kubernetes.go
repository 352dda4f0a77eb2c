// Package kubernetes is the target that runs a service's versions as
// Deployments in a Kubernetes namespace, applied server-side with the field
// manager "belay", and splits traffic between them with a Gateway API
// HTTPRoute's backend weights when the cluster serves HTTPRoute, else by the
// ratio of the versions' replicas.
package kubernetes

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	gateway "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/belay-dev/belay/internal/target"
)

// Traffic says how a target splits traffic between versions.
type Traffic string

const (
	TrafficAuto     Traffic = ""         // Gateway when the cluster serves HTTPRoute, else Replicas
	TrafficGateway  Traffic = "gateway"  // HTTPRoute backend weights, one Service per version
	TrafficReplicas Traffic = "replicas" // one Service over every serving version; weight = share of replicas
)

// DefaultAbortCleanupDelay is how long a version taken out of Desired stays
// scaled to zero before its objects are deleted.
const DefaultAbortCleanupDelay = 5 * time.Minute

// Config is one Kubernetes target: a namespace of one cluster.
type Config struct {
	// Kubeconfig is the path of a kubeconfig file; Context names one of
	// its contexts (default its current one). Neither Kubeconfig nor REST:
	// the in-cluster configuration of a pod. REST, when set, is used instead.
	Kubeconfig string
	Context    string
	REST       *rest.Config
	Namespace  string // must exist
	// FieldManager owns the fields belay applies (default "belay").
	FieldManager string
	Traffic      Traffic
	// Gateway is the parent Gateway of the HTTPRoutes belay writes
	// (Traffic gateway); its namespace defaults to Namespace.
	Gateway GatewayRef
	// AbortCleanupDelay: versions taken out of Desired are scaled to zero at
	// once and deleted (Deployment, Services, Secret) this long after; 0 is
	// DefaultAbortCleanupDelay, a negative value deletes them at once.
	AbortCleanupDelay time.Duration
	// Registry, when set, is the only registry host images may come from
	// (the environment's registry belay copied the artifact to).
	Registry string
	// Port is the port the service's container listens on, given to it as
	// PORT (default 8080); the Services forward the port of Desired.Listen
	// (default 80) to it.
	Port int
	// Poll is how often Apply looks at rollout progress (default 250ms).
	Poll  time.Duration
	Clock func() time.Time
	Log   *slog.Logger
}

// GatewayRef names a Gateway API Gateway.
type GatewayRef struct {
	Name, Namespace, SectionName string
}

// Target runs services' versions in one namespace.
type Target struct {
	cfg    Config
	server string // the API server's address, for errors
	kube   kubernetes.Interface
	gw     gateway.Interface
}

var (
	_ target.Target  = (*Target)(nil)
	_ target.Drifter = (*Target)(nil)
)

// New checks cfg and makes the clients; it does not contact the cluster.
func New(cfg Config) (*Target, error) {
	if cfg.Namespace == "" {
		return nil, errors.New("kubernetes target: namespace is empty; name the namespace belay deploys into")
	}
	switch cfg.Traffic {
	case TrafficAuto, TrafficGateway, TrafficReplicas:
	default:
		return nil, fmt.Errorf("kubernetes target: traffic %q unknown; use gateway, replicas, or leave it empty to detect HTTPRoute", cfg.Traffic)
	}
	if cfg.Traffic == TrafficGateway && cfg.Gateway.Name == "" {
		return nil, errors.New("kubernetes target: traffic gateway needs the parent Gateway's name")
	}
	if cfg.FieldManager == "" {
		cfg.FieldManager = "belay"
	}
	if cfg.AbortCleanupDelay == 0 {
		cfg.AbortCleanupDelay = DefaultAbortCleanupDelay
	}
	if cfg.Port == 0 {
		cfg.Port = 8080
	}
	if cfg.Poll == 0 {
		cfg.Poll = 250 * time.Millisecond
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Gateway.Namespace == "" {
		cfg.Gateway.Namespace = cfg.Namespace
	}
	rc := cfg.REST
	if rc == nil {
		var err error
		switch {
		case cfg.Kubeconfig == "":
			if rc, err = rest.InClusterConfig(); err != nil {
				return nil, fmt.Errorf("kubernetes target: no kubeconfig given and not running in a pod (%v); give the path of a kubeconfig", err)
			}
		default:
			rc, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
				&clientcmd.ClientConfigLoadingRules{ExplicitPath: cfg.Kubeconfig},
				&clientcmd.ConfigOverrides{CurrentContext: cfg.Context}).ClientConfig()
			if err != nil {
				return nil, fmt.Errorf("kubernetes target: kubeconfig %s: %w", cfg.Kubeconfig, err)
			}
		}
	}
	rc = rest.CopyConfig(rc)
	if rc.Timeout == 0 {
		rc.Timeout = 30 * time.Second
	}
	kc, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes target: %w", err)
	}
	gc, err := gateway.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes target: %w", err)
	}
	return &Target{cfg: cfg, server: rc.Host, kube: kc, gw: gc}, nil
}

// apiError turns an error from the API server into one that says where and
// what to do; errors that already say so pass through.
func (t *Target) apiError(err error, doing string) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	var ne net.Error
	switch {
	case errors.As(err, &ue) && (errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &ne) || errors.Is(err, syscall.EHOSTUNREACH)):
		return fmt.Errorf("kubernetes API server %s unreachable while %s: %v; check the kubeconfig's server address and that the cluster is up", t.server, doing, err)
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("kubernetes API server %s refused the kubeconfig's credentials while %s: %v; renew the token or certificate", t.server, doing, err)
	}
	return fmt.Errorf("kubernetes: %s: %w", doing, err)
}
