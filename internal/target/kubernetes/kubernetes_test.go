package kubernetes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/belay-dev/belay/internal/target"
	"github.com/belay-dev/belay/internal/target/targettest"
	"github.com/belay-dev/belay/internal/testenv/kube"
)

func TestMain(m *testing.M) { os.Exit(kube.Main(m)) }

const registry = "registry.test"

// image is a made-up image by digest; kwok runs no process, so only the
// repository matters: /crashloop and /pullfail make kwok report those
// failures (internal/testenv/kube/stages.yaml).
func image(repo, name string) string {
	h := sha256.Sum256([]byte(repo + name))
	return registry + "/" + repo + "@sha256:" + hex.EncodeToString(h[:])
}

func version(name string, weight float64) target.Version {
	return target.Version{
		Version: name, Artifact: image("hello", name), Instances: 4, Weight: weight,
		Run:    target.Run{Command: "/hello", Args: []string{"serve"}, Env: map[string]string{"VERSION": name}, GracePeriod: 3 * time.Second},
		Health: target.Health{HTTPPath: "/healthz", Interval: time.Second, UnhealthyThreshold: 2, HealthTimeout: time.Minute},
	}
}

func sick(name string, weight float64) target.Version {
	v := version(name, weight)
	v.Artifact = image("crashloop", name)
	v.Health.HealthTimeout = 30 * time.Second
	return v
}

func newTarget(t *testing.T, c *kube.Cluster, ns string, mode Traffic, mod ...func(*Config)) *Target {
	t.Helper()
	cfg := Config{REST: c.Admin, Namespace: ns, Traffic: mode, AbortCleanupDelay: -1, Registry: registry, Poll: 100 * time.Millisecond}
	if mode != TrafficReplicas {
		cfg.Gateway = GatewayRef{Name: "web"}
	}
	for _, m := range mod {
		m(&cfg)
	}
	tg, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// replicaWeights is what weights from replicas give for four instances:
// each version's rounded share of the four.
func replicaWeights(vs []target.Version) map[string]float64 {
	out := map[string]float64{}
	for _, v := range vs {
		out[v.Version] = math.Round(4*v.Weight/100) * 100 / 4
	}
	return out
}

func harness(tg *Target) targettest.Harness {
	return targettest.Harness{
		Target: tg,
		Base:   target.Desired{Environment: "test", Service: "hello", Listen: ":80"},
		Good:   version,
		Sick:   sick,
		Missing: func(n string, w float64) target.Version {
			v := version(n, w)
			v.Artifact = registry + "/hello:" + n
			return v
		},
	}
}

func TestSuiteReplicas(t *testing.T) {
	c := kube.Get(t)
	h := harness(newTarget(t, c, c.Namespace(t, "suite-replicas"), TrafficReplicas))
	h.Achieved = replicaWeights
	targettest.Run(t, h)
}

func TestSuiteGateway(t *testing.T) {
	c := kube.Get(t)
	installGatewayAPI(t, c)
	targettest.Run(t, harness(newTarget(t, c, c.Namespace(t, "suite-gateway"), TrafficGateway)))
}

func TestTrafficModeDetected(t *testing.T) {
	c := kube.Get(t)
	ns := c.Namespace(t, "detect")
	if !gatewayInstalled {
		if m, err := newTarget(t, c, ns, TrafficAuto).mode(context.Background()); err != nil || m != TrafficReplicas {
			t.Fatalf("without the Gateway API: %q %v", m, err)
		}
	}
	installGatewayAPI(t, c)
	if m, err := newTarget(t, c, ns, TrafficAuto).mode(context.Background()); err != nil || m != TrafficGateway {
		t.Fatalf("with HTTPRoute served: %q %v", m, err)
	}
}

var (
	gatewayOnce      sync.Once
	gatewayInstalled bool
	gatewayErr       error
)

// installGatewayAPI installs the HTTPRoute CRD of sigs.k8s.io/gateway-api
// (the version go.mod names) and waits until the API server serves it.
func installGatewayAPI(t *testing.T, c *kube.Cluster) {
	t.Helper()
	gatewayOnce.Do(func() {
		dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
		if err != nil {
			gatewayErr = err
			return
		}
		b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(dir)), "config", "crd", "standard", "gateway.networking.k8s.io_httproutes.yaml"))
		if err != nil {
			gatewayErr = err
			return
		}
		var obj map[string]any
		if gatewayErr = yaml.Unmarshal(b, &obj); gatewayErr != nil {
			return
		}
		dc, _ := dynamic.NewForConfig(c.Admin)
		crds := dc.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
		if _, err := crds.Create(context.Background(), &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			gatewayErr = err
			return
		}
		cs := c.Client(t)
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if res, err := cs.Discovery().ServerResourcesForGroupVersion(gatewayGroupVersion); err == nil && len(res.APIResources) > 0 {
				gatewayInstalled = true
				return
			}
		}
		gatewayErr = errors.New("HTTPRoute not served 60s after installing its CRD")
	})
	if gatewayErr != nil {
		t.Fatal(gatewayErr)
	}
}
