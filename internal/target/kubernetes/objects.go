package kubernetes

import (
	"encoding/json"
	"math"
	"net"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwac "sigs.k8s.io/gateway-api/applyconfiguration/apis/v1"

	"github.com/belay-dev/belay/internal/target"
)

// applied is what belay owns of a Deployment, kept in its AnnotationApplied
// so Drift can tell a change made outside belay from belay's own.
type applied struct {
	Image    string            `json:"image"`
	Replicas int32             `json:"replicas"`
	Env      map[string]string `json:"env"`
	Secret   string            `json:"secret,omitempty"` // envFrom secret, values never here
	// Template is a hash of the whole pod template belay applied: a change
	// of it means the version's pods are replaced.
	Template string `json:"template"`
}

// plan is one version as the target applies it.
type plan struct {
	v        target.Version
	name     string // Deployment, per-version Service and Secret prefix
	replicas int32
	serving  bool // takes traffic (weight above zero)
}

// replicaShares turns weights into replicas when traffic follows replicas:
// the service keeps the largest instance count among serving versions,
// shared by weight (largest remainder), and a serving version gets at least
// one; a version at weight 0 keeps its instances outside the Service.
func replicaShares(vs []target.Version) []int32 {
	out := make([]int32, len(vs))
	total := 0
	for _, v := range vs {
		if v.Weight > 0 {
			total = max(total, v.Instances)
		}
	}
	type rem struct {
		i int
		r float64
	}
	var rems []rem
	given := 0
	for i, v := range vs {
		if v.Weight <= 0 {
			out[i] = int32(v.Instances)
			continue
		}
		exact := float64(total) * v.Weight / 100
		out[i] = int32(math.Floor(exact))
		given += int(out[i])
		rems = append(rems, rem{i, exact - math.Floor(exact)})
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].r > rems[b].r })
	for k := 0; given < total && k < len(rems); k++ {
		out[rems[k].i]++
		given++
	}
	// A serving version with no replica gets one, taken from the largest.
	for _, r := range rems {
		if out[r.i] > 0 {
			continue
		}
		big := -1
		for _, q := range rems {
			if out[q.i] > 1 && (big < 0 || out[q.i] > out[big]) {
				big = q.i
			}
		}
		out[r.i]++
		if big >= 0 {
			out[big]--
		}
	}
	return out
}

func (t *Target) plans(want target.Desired, mode Traffic) []plan {
	ps := make([]plan, len(want.Versions))
	shares := replicaShares(want.Versions)
	for i, v := range want.Versions {
		ps[i] = plan{v: v, name: objectName(want.Environment, want.Service, v.Version), replicas: int32(v.Instances), serving: v.Weight > 0}
		if mode == TrafficReplicas {
			ps[i].replicas = shares[i]
		}
	}
	return ps
}

func servicePort(listen string) int32 {
	if _, p, err := net.SplitHostPort(listen); err == nil {
		if n, err := strconv.Atoi(p); err == nil && n > 0 && n < 65536 {
			return int32(n)
		}
	}
	return 80
}

func secretName(p plan) string { return p.name + "-env" }

// deployment is the Deployment of one version and the record of it.
func (t *Target) deployment(want target.Desired, p plan, mode Traffic) (*appsv1ac.DeploymentApplyConfiguration, applied) {
	v := p.v
	sel := versionLabels(want.Environment, want.Service, v.Version)
	podLabels := versionLabels(want.Environment, want.Service, v.Version)
	if mode == TrafficReplicas {
		podLabels[LabelServing] = strconv.FormatBool(p.serving)
	}
	env := map[string]string{"PORT": strconv.Itoa(t.cfg.Port)}
	for k, val := range v.Run.Env {
		env[k] = val
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	c := corev1ac.Container().WithName("app").WithImage(v.Artifact).
		WithPorts(corev1ac.ContainerPort().WithName("http").WithContainerPort(int32(t.cfg.Port)).WithProtocol(corev1.ProtocolTCP))
	if v.Run.Command != "" {
		c.WithCommand(v.Run.Command)
	}
	if len(v.Run.Args) > 0 {
		c.WithArgs(v.Run.Args...)
	}
	for _, k := range keys {
		c.WithEnv(corev1ac.EnvVar().WithName(k).WithValue(env[k]))
	}
	rec := applied{Image: v.Artifact, Replicas: p.replicas, Env: env}
	if len(v.Run.SecretEnv) > 0 {
		rec.Secret = secretName(p)
		c.WithEnvFrom(corev1ac.EnvFromSource().WithSecretRef(corev1ac.SecretEnvSource().WithName(rec.Secret)))
	}
	c.WithReadinessProbe(probe(v.Health))
	pod := corev1ac.PodSpec().WithContainers(c)
	if v.Run.GracePeriod > 0 {
		pod.WithTerminationGracePeriodSeconds(int64(math.Ceil(v.Run.GracePeriod.Seconds())))
	}
	annotations := map[string]string{
		"prometheus.io/scrape": "true",
		"prometheus.io/port":   strconv.Itoa(t.cfg.Port),
		"prometheus.io/path":   "/metrics",
		AnnotationVersion:      v.Version,
	}
	if len(v.Run.SecretEnv) > 0 {
		// A new secret value changes the template: the pods restart with it
		// and the version counts as changed.
		annotations[AnnotationSecretHash] = secretHash(v.Run.SecretEnv)
	}
	tmpl := corev1ac.PodTemplateSpec().WithLabels(podLabels).WithAnnotations(annotations).WithSpec(pod)
	tj, _ := json.Marshal(tmpl)
	rec.Template = hash(string(tj), 16)
	recJSON, _ := json.Marshal(rec)
	d := appsv1ac.Deployment(p.name, t.cfg.Namespace).
		WithLabels(versionLabels(want.Environment, want.Service, v.Version)).
		WithAnnotations(map[string]string{AnnotationApplied: string(recJSON), AnnotationVersion: v.Version, AnnotationWeight: strconv.FormatFloat(v.Weight, 'f', -1, 64)}).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(p.replicas).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(sel)).
			WithProgressDeadlineSeconds(int32(math.Ceil(healthTimeout(v).Seconds()))).
			WithStrategy(appsv1ac.DeploymentStrategy().WithType(appsv1.RollingUpdateDeploymentStrategyType).
				WithRollingUpdate(appsv1ac.RollingUpdateDeployment().WithMaxUnavailable(intstr.FromInt32(0)).WithMaxSurge(intstr.FromString("25%")))).
			WithTemplate(tmpl))
	return d, rec
}

func probe(h target.Health) *corev1ac.ProbeApplyConfiguration {
	pr := corev1ac.Probe().WithPeriodSeconds(max(1, int32(h.Interval.Seconds()))).WithFailureThreshold(max(1, int32(h.UnhealthyThreshold)))
	if h.Timeout > 0 {
		pr.WithTimeoutSeconds(max(1, int32(h.Timeout.Seconds())))
	}
	if h.HTTPPath != "" {
		return pr.WithHTTPGet(corev1ac.HTTPGetAction().WithPath(h.HTTPPath).WithPort(intstr.FromString("http")))
	}
	return pr.WithTCPSocket(corev1ac.TCPSocketAction().WithPort(intstr.FromString("http")))
}

// secretHash stands for the secret values in the pod template without
// showing them.
func secretHash(env map[string]string) string {
	j, _ := json.Marshal(env) // keys sorted
	return hash("belay-secret-env\x00"+string(j), 16)
}

func (t *Target) secret(want target.Desired, p plan) *corev1ac.SecretApplyConfiguration {
	data := map[string][]byte{}
	for k, v := range p.v.Run.SecretEnv {
		data[k] = []byte(v)
	}
	return t.secretData(want, p, data)
}

func (t *Target) secretData(want target.Desired, p plan, data map[string][]byte) *corev1ac.SecretApplyConfiguration {
	return corev1ac.Secret(secretName(p), t.cfg.Namespace).
		WithLabels(versionLabels(want.Environment, want.Service, p.v.Version)).
		WithType(corev1.SecretTypeOpaque).WithData(data)
}

// service is a Service selecting pods by labels: the service's serving
// pods (its own name), or one version's (in gateway mode).
func (t *Target) service(name string, labels, selector map[string]string, port int32) *corev1ac.ServiceApplyConfiguration {
	return corev1ac.Service(name, t.cfg.Namespace).WithLabels(labels).
		WithSpec(corev1ac.ServiceSpec().WithSelector(selector).
			WithPorts(corev1ac.ServicePort().WithName("http").WithPort(port).WithTargetPort(intstr.FromString("http")).WithProtocol(corev1.ProtocolTCP)))
}

// routeScale turns percents into HTTPRoute weights: integers, so percent ×
// 100 keeps two decimals exact (75.5 → 7550).
const routeScale = 100

func (t *Target) route(want target.Desired, ps []plan, port int32) *gwac.HTTPRouteApplyConfiguration {
	rule := gwac.HTTPRouteRule()
	for _, p := range ps {
		rule.WithBackendRefs(gwac.HTTPBackendRef().WithName(gwv1.ObjectName(p.name)).WithPort(port).
			WithWeight(int32(math.Round(p.v.Weight * routeScale))))
	}
	parent := gwac.ParentReference().WithName(gwv1.ObjectName(t.cfg.Gateway.Name)).WithNamespace(gwv1.Namespace(t.cfg.Gateway.Namespace))
	if t.cfg.Gateway.SectionName != "" {
		parent.WithSectionName(gwv1.SectionName(t.cfg.Gateway.SectionName))
	}
	return gwac.HTTPRoute(base(want.Environment, want.Service), t.cfg.Namespace).
		WithLabels(serviceLabels(want.Environment, want.Service)).
		WithSpec(gwac.HTTPRouteSpec().WithParentRefs(parent).WithRules(rule))
}
