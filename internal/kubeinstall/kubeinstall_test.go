package kubeinstall

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/kubernetes/scheme"
)

const image = "registry.example.com/belay@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// decode splits the stream and decodes every document with client-go's
// deserializer, which refuses unknown kinds and malformed fields' types.
func decode(t *testing.T, y []byte) []any {
	t.Helper()
	var out []any
	for _, doc := range bytes.Split(y, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 || bytes.HasPrefix(bytes.TrimSpace(doc), []byte("#")) && !bytes.Contains(doc, []byte("kind:")) {
			continue
		}
		doc = bytes.TrimPrefix(doc, []byte("---\n"))
		obj, gvk, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("document does not decode: %v\n%s", err, doc)
		}
		if gvk.Kind == "" {
			t.Fatalf("no kind in\n%s", doc)
		}
		out = append(out, obj)
	}
	return out
}

// TestManifests: every document is a valid object; the Deployment runs the
// image by digest with N replicas, the store URL from a Secret reference
// (never a value), HTTPS probes on /healthz and resource requests; the
// Role grants exactly what the Kubernetes target needs in each namespace
// it deploys into.
func TestManifests(t *testing.T) {
	y, err := YAML(Options{Image: image, Namespace: "ops", TargetNamespaces: []string{"shop", "shop-staging"}, Replicas: 3, StoreSecret: "pg"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(y, []byte("creationTimestamp")) || bytes.Contains(y, []byte("status:")) || bytes.Contains(y, []byte("spec: {}")) || bytes.Contains(y, []byte("strategy: {}")) {
		t.Errorf("empty status or timestamps left in:\n%s", y)
	}
	var kinds []string
	roles := map[string]*rbacv1.Role{}
	var dep *appsv1.Deployment
	for _, obj := range decode(t, y) {
		switch o := obj.(type) {
		case *corev1.Namespace:
			kinds = append(kinds, "Namespace/"+o.Name)
		case *corev1.ServiceAccount:
			kinds = append(kinds, "ServiceAccount/"+o.Namespace)
		case *rbacv1.Role:
			roles[o.Namespace] = o
			kinds = append(kinds, "Role/"+o.Namespace)
		case *rbacv1.RoleBinding:
			kinds = append(kinds, "RoleBinding/"+o.Namespace)
			if o.RoleRef.Name != o.Name || len(o.Subjects) != 1 || o.Subjects[0].Namespace != "ops" || o.Subjects[0].Name != "belay-server" {
				t.Errorf("binding %+v does not bind the server's ServiceAccount", o)
			}
		case *appsv1.Deployment:
			dep = o
			kinds = append(kinds, "Deployment/"+o.Namespace)
		case *corev1.Service:
			kinds = append(kinds, "Service/"+o.Namespace)
			if o.Spec.Ports[0].Port != Port {
				t.Errorf("service port %d", o.Spec.Ports[0].Port)
			}
		default:
			t.Errorf("unexpected object %T", obj)
		}
	}
	want := []string{"Namespace/ops", "ServiceAccount/ops", "Role/shop", "RoleBinding/shop", "Role/shop-staging", "RoleBinding/shop-staging", "Deployment/ops", "Service/ops"}
	if !slices.Equal(kinds, want) {
		t.Errorf("objects %v, want %v", kinds, want)
	}
	for _, ns := range []string{"shop", "shop-staging"} {
		checkRules(t, roles[ns])
	}
	if dep == nil {
		t.Fatal("no Deployment")
	}
	if *dep.Spec.Replicas != 3 {
		t.Errorf("replicas %d", *dep.Spec.Replicas)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	if c.Image != image || dep.Spec.Template.Spec.ServiceAccountName != "belay-server" {
		t.Errorf("image %s, account %s", c.Image, dep.Spec.Template.Spec.ServiceAccountName)
	}
	env := c.Env[0]
	if env.Name != "BELAY_STATE" || env.Value != "" || env.ValueFrom.SecretKeyRef.Name != "pg" || env.ValueFrom.SecretKeyRef.Key != "url" {
		t.Errorf("store URL not a Secret reference: %+v", env)
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
		if p == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Scheme != corev1.URISchemeHTTPS {
			t.Errorf("probe %+v", p)
		}
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		t.Error("no resource requests")
	}
	if !slices.Contains(c.Args, "--tls-cert") || !slices.Contains(c.Args, "0.0.0.0:8443") {
		t.Errorf("args %v: off loopback the server needs TLS", c.Args)
	}
}

// checkRules compares the Role with the permissions the target uses: none
// missing, none more.
func checkRules(t *testing.T, r *rbacv1.Role) {
	t.Helper()
	if r == nil {
		t.Fatal("no Role")
	}
	got := map[string]bool{}
	for _, pr := range r.Rules {
		for _, g := range pr.APIGroups {
			for _, res := range pr.Resources {
				for _, v := range pr.Verbs {
					got[v+" "+res+"."+g] = true
				}
			}
		}
	}
	need := map[string]bool{}
	for _, n := range Needed() {
		for _, v := range n.Verbs {
			need[v+" "+n.Resource+"."+n.Group] = true
		}
	}
	for k := range need {
		if !got[k] {
			t.Errorf("Role %s lacks %s", r.Namespace, k)
		}
	}
	for k := range got {
		if !need[k] {
			t.Errorf("Role %s grants %s, which the target does not use", r.Namespace, k)
		}
	}
	// Exactly what the target calls (docs/kubernetes.md): server-side apply
	// (patch, authorized as create for a new object); no watch or update,
	// no events.
	want := map[string]bool{}
	for _, k := range []string{"get deployments.apps", "list deployments.apps", "create deployments.apps", "patch deployments.apps", "delete deployments.apps",
		"get services.", "create services.", "patch services.", "delete services.", "get secrets.", "create secrets.", "patch secrets.", "delete secrets.", "list pods.",
		"get httproutes.gateway.networking.k8s.io", "create httproutes.gateway.networking.k8s.io", "patch httproutes.gateway.networking.k8s.io",
		"delete httproutes.gateway.networking.k8s.io"} {
		want[k] = true
		if !need[k] {
			t.Errorf("the target's list lacks %s", k)
		}
	}
	for k := range need {
		if !want[k] {
			t.Errorf("the target's list has %s, which it does not call", k)
		}
	}
}

func TestManifestsDefaults(t *testing.T) {
	objs, err := Objects(Options{Image: image})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if d, ok := o.(*appsv1.Deployment); ok && (*d.Spec.Replicas != 2 || d.Namespace != "belay") {
			t.Errorf("defaults: %d replicas in %s, want 2 in belay", *d.Spec.Replicas, d.Namespace)
		}
		if r, ok := o.(*rbacv1.Role); ok && r.Namespace != "belay" {
			t.Errorf("role in %s, want the server's namespace", r.Namespace)
		}
	}
}

func TestManifestsBadOptions(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{}, "--image"},
		{Options{Image: "registry.example.com/belay:1.0"}, "by digest"},
		{Options{Image: image, Replicas: -1}, "--replicas -1"},
		{Options{Image: image, Namespace: "Ops"}, "--namespace"},
		{Options{Image: image, TargetNamespaces: []string{"a_b"}}, "--target-namespace"},
	} {
		_, err := YAML(c.o)
		if !errors.Is(err, ErrOptions) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err %v, want %q", c.o, err, c.want)
		}
	}
}
