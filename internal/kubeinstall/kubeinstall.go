// Package kubeinstall makes the Kubernetes objects that run belay's server
// in a cluster, with PostgreSQL as its store: what `belay k8s manifests`
// prints. Values (the store's URL, keys, certificates) are never in them:
// they name Secrets and a ConfigMap the operator creates.
package kubeinstall

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/belay-dev/belay/internal/target/kubernetes"
)

// ErrOptions is a bad option; the message names the flag.
var ErrOptions = errors.New("invalid option")

// Options are the knobs of the manifests; zero values take the defaults.
type Options struct {
	// Image is belay's image, by digest (REPO@sha256:…).
	Image string
	// Namespace is where the server runs; default belay.
	Namespace string
	// TargetNamespaces are the namespaces the server deploys services into
	// (belay.yaml's kubernetes.namespace values); default Namespace.
	TargetNamespaces []string
	// Replicas of the server; default 2 (one leads, through the store's lease).
	Replicas int32
	// StoreSecret holds the PostgreSQL URL under the key url; default belay-store.
	StoreSecret string
	// EnvSecret, optional, holds further environment variables (the fleet
	// hosts' token_env values, BELAY_*); default belay-env.
	EnvSecret string
	// TLSSecret is a kubernetes.io/tls Secret with the API's certificate;
	// default belay-tls.
	TLSSecret string
	// ProjectConfigMap holds belay.yaml (and the files it names, e.g.
	// artifacts.trusted_keys); default belay-project.
	ProjectConfigMap string
	// AgeSecret, optional, holds the environments' age identities (ENV.key)
	// that decrypt their secrets; default belay-age.
	AgeSecret string
}

// Port is the API's port in the pod and on the Service.
const Port = 8443

const (
	home       = "/var/lib/belay"
	projectDir = "/etc/belay/project"
	tlsDir     = "/etc/belay/tls"
	name       = "belay-server"
)

var (
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	digestRE = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)
)

func (o *Options) defaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.Namespace, "belay")
	def(&o.StoreSecret, "belay-store")
	def(&o.EnvSecret, "belay-env")
	def(&o.TLSSecret, "belay-tls")
	def(&o.ProjectConfigMap, "belay-project")
	def(&o.AgeSecret, "belay-age")
	if len(o.TargetNamespaces) == 0 {
		o.TargetNamespaces = []string{o.Namespace}
	}
	if o.Replicas == 0 {
		o.Replicas = 2
	}
}

// Validate checks the options after defaults, naming the flag at fault.
func (o Options) Validate() error {
	if o.Image == "" || !digestRE.MatchString(o.Image) {
		return fmt.Errorf("%w: --image %q: give belay's image by digest (REPO@sha256:…), so that every replica runs the same bytes", ErrOptions, o.Image)
	}
	if o.Replicas < 1 {
		return fmt.Errorf("%w: --replicas %d must be at least 1", ErrOptions, o.Replicas)
	}
	for flag, v := range map[string]string{"--namespace": o.Namespace, "--store-secret": o.StoreSecret, "--env-secret": o.EnvSecret,
		"--tls-secret": o.TLSSecret, "--project-configmap": o.ProjectConfigMap, "--age-secret": o.AgeSecret} {
		if !dnsLabel.MatchString(v) {
			return fmt.Errorf("%w: %s %q is not a Kubernetes name (lower-case letters, digits and '-', at most 63)", ErrOptions, flag, v)
		}
	}
	for _, ns := range o.TargetNamespaces {
		if !dnsLabel.MatchString(ns) {
			return fmt.Errorf("%w: --target-namespace %q is not a namespace name", ErrOptions, ns)
		}
	}
	return nil
}

// Objects are the manifests' objects in the order to apply them.
func Objects(o Options) ([]runtime.Object, error) {
	o.defaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	labels := map[string]string{"app.kubernetes.io/name": "belay", "app.kubernetes.io/component": "server"}
	meta := func(n, ns string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: n, Namespace: ns, Labels: labels}
	}
	objs := []runtime.Object{
		&corev1.Namespace{TypeMeta: typeMeta("v1", "Namespace"), ObjectMeta: metav1.ObjectMeta{Name: o.Namespace, Labels: labels}},
		&corev1.ServiceAccount{TypeMeta: typeMeta("v1", "ServiceAccount"), ObjectMeta: meta(name, o.Namespace)},
	}
	for _, ns := range o.TargetNamespaces {
		objs = append(objs,
			&rbacv1.Role{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "Role"), ObjectMeta: meta(name, ns), Rules: TargetRules()},
			&rbacv1.RoleBinding{
				TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "RoleBinding"), ObjectMeta: meta(name, ns),
				RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
				Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: o.Namespace}},
			})
	}
	objs = append(objs, deployment(o, meta(name, o.Namespace), labels), &corev1.Service{
		TypeMeta: typeMeta("v1", "Service"), ObjectMeta: meta(name, o.Namespace),
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{
			Name: "api", Port: Port, TargetPort: intstr.FromString("api"), Protocol: corev1.ProtocolTCP,
		}}},
	})
	return objs, nil
}

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

func deployment(o Options, meta metav1.ObjectMeta, labels map[string]string) *appsv1.Deployment {
	probe := func(period int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("api"), Scheme: corev1.URISchemeHTTPS}},
			PeriodSeconds: period, FailureThreshold: 3, TimeoutSeconds: 2,
		}
	}
	no, yes := false, true
	optional := true
	var uid int64 = 65532
	c := corev1.Container{
		Name: "server", Image: o.Image,
		Command: []string{"belay"},
		Args: []string{"server", "--file", projectDir + "/belay.yaml", "--home", home, "--listen", fmt.Sprintf("0.0.0.0:%d", Port),
			"--tls-cert", tlsDir + "/tls.crt", "--tls-key", tlsDir + "/tls.key"},
		Ports: []corev1.ContainerPort{{Name: "api", ContainerPort: Port, Protocol: corev1.ProtocolTCP}},
		Env: []corev1.EnvVar{{Name: "BELAY_STATE", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: o.StoreSecret}, Key: "url"}}}},
		EnvFrom:        []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: o.EnvSecret}, Optional: &optional}}},
		LivenessProbe:  probe(10),
		ReadinessProbe: probe(5),
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
		},
		VolumeMounts: []corev1.VolumeMount{
			{Name: "home", MountPath: home},
			{Name: "tmp", MountPath: "/tmp"},
			{Name: "age", MountPath: home + "/secrets", ReadOnly: true},
			{Name: "project", MountPath: projectDir, ReadOnly: true},
			{Name: "tls", MountPath: tlsDir, ReadOnly: true},
		},
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes, RunAsNonRoot: &yes, RunAsUser: &uid,
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
	ageMode := int32(0o400)
	spec := corev1.PodSpec{
		ServiceAccountName: name,
		Containers:         []corev1.Container{c},
		SecurityContext:    &corev1.PodSecurityContext{FSGroup: &uid, SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		Volumes: []corev1.Volume{
			{Name: "home", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "age", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: o.AgeSecret, Optional: &optional, DefaultMode: &ageMode}}},
			{Name: "project", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: o.ProjectConfigMap}}}},
			{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: o.TLSSecret}}},
		},
		// Replicas on different nodes, so that a node's loss leaves one to lead.
		Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: 100, PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "kubernetes.io/hostname", LabelSelector: &metav1.LabelSelector{MatchLabels: labels}},
		}}}},
	}
	replicas := o.Replicas
	return &appsv1.Deployment{
		TypeMeta: typeMeta("apps/v1", "Deployment"), ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
}

// YAML is Objects as one YAML stream, documents separated by "---", without
// the empty status and creationTimestamp a typed object marshals.
func YAML(o Options) ([]byte, error) {
	objs, err := Objects(o)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString("# belay server in Kubernetes: made by `belay k8s manifests`; see docs/kubernetes.md.\n")
	for _, obj := range objs {
		b, err := json.Marshal(obj)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		delete(m, "status")
		if md, ok := m["metadata"].(map[string]any); ok {
			delete(md, "creationTimestamp")
		}
		stripEmpty(m)
		y, err := yaml.Marshal(m)
		if err != nil {
			return nil, err
		}
		buf.WriteString("---\n")
		buf.Write(y)
	}
	return buf.Bytes(), nil
}

// stripEmpty drops what a typed object marshals but nobody wrote: the pod
// template's creationTimestamp and empty spec and strategy blocks.
func stripEmpty(m map[string]any) {
	spec, _ := m["spec"].(map[string]any)
	if len(spec) == 0 {
		delete(m, "spec")
		return
	}
	if st, ok := spec["strategy"].(map[string]any); ok && len(st) == 0 {
		delete(spec, "strategy")
	}
	tpl, _ := spec["template"].(map[string]any)
	if md, ok := tpl["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
}

// Rule is one permission belay's Kubernetes target needs in a namespace
// it deploys into.
type Rule struct {
	Group, Resource string
	Verbs           []string
}

// Needed lists the permissions belay's Kubernetes target uses in a
// namespace it deploys into: exactly the target's own list
// (kubernetes.Permissions), so the Role grants what the target calls and
// nothing more. (Its cluster-scoped calls — discovery, and creating
// SelfSubjectAccessReviews and SelfSubjectReviews to check these before a
// rollout — are granted to every authenticated identity by the default
// ClusterRoles system:discovery and system:basic-user, so no Role holds
// them; reading its namespace is optional.)
func Needed() []Rule {
	var out []Rule
	for _, p := range kubernetes.Permissions() {
		out = append(out, Rule{p.Group, p.Resource, p.Verbs})
	}
	return out
}

// TargetRules are Needed as a Role's rules.
func TargetRules() []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for _, r := range Needed() {
		out = append(out, rbacv1.PolicyRule{APIGroups: []string{r.Group}, Resources: []string{r.Resource}, Verbs: slices.Clone(r.Verbs)})
	}
	return out
}

// String is "verb,verb resource.group".
func (r Rule) String() string {
	res := r.Resource
	if r.Group != "" {
		res += "." + r.Group
	}
	return strings.Join(r.Verbs, ",") + " " + res
}
