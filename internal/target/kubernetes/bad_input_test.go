package kubernetes

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/belay-dev/belay/internal/target"
	"github.com/belay-dev/belay/internal/testenv/kube"
)

// stableUntouched applies v1 and returns a check that its Deployment is
// exactly as it was (same generation, image, replicas) and takes all traffic.
func stableUntouched(t *testing.T, c *kube.Cluster, tg *Target, ns string) func() {
	t.Helper()
	if err := tg.Apply(context.Background(), desired(version("v1", 100))); err != nil {
		t.Fatal(err)
	}
	before := deployment(t, c, ns, objectName("production", "hello", "v1"))
	return func() {
		t.Helper()
		after := deployment(t, c, ns, objectName("production", "hello", "v1"))
		if after.Generation != before.Generation || *after.Spec.Replicas != *before.Spec.Replicas ||
			after.Spec.Template.Spec.Containers[0].Image != before.Spec.Template.Spec.Containers[0].Image || after.Status.ReadyReplicas != 4 {
			t.Fatalf("the stable Deployment changed: generation %d→%d, replicas %d→%d, ready %d",
				before.Generation, after.Generation, *before.Spec.Replicas, *after.Spec.Replicas, after.Status.ReadyReplicas)
		}
		ds, err := c.Client(t).AppsV1().Deployments(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil || len(ds.Items) != 1 {
			t.Fatalf("Deployments left: %d %v", len(ds.Items), err)
		}
	}
}

func TestUnreachableAPIServer(t *testing.T) {
	tg, err := New(Config{REST: &rest.Config{Host: "https://127.0.0.1:1"}, Namespace: "x", Traffic: TrafficReplicas})
	if err != nil {
		t.Fatal(err)
	}
	err = tg.Apply(context.Background(), desired(version("v1", 100)))
	if err == nil || !strings.Contains(err.Error(), "https://127.0.0.1:1 unreachable") || !strings.Contains(err.Error(), "check the kubeconfig's server") {
		t.Fatalf("got %v", err)
	}
	if _, err := tg.Observe(context.Background(), "production", "hello"); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("observe: %v", err)
	}
}

func TestMissingNamespace(t *testing.T) {
	c := kube.Get(t)
	err := newTarget(t, c, "no-such-namespace", TrafficReplicas).Apply(context.Background(), desired(version("v1", 100)))
	if err == nil || !strings.Contains(err.Error(), `namespace "no-such-namespace" does not exist`) || !strings.Contains(err.Error(), "kubectl create namespace no-such-namespace") {
		t.Fatalf("got %v", err)
	}
}

// A kubeconfig whose user may read Deployments but not change them: the
// error names what is missing, and nothing is applied.
func TestKubeconfigWithoutRBAC(t *testing.T) {
	c := kube.Get(t)
	ns := c.Namespace(t, "rbac")
	check := stableUntouched(t, c, newTarget(t, c, ns, TrafficReplicas), ns)
	cs := c.Client(t)
	ctx := context.Background()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "read-only"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list"}},
		{APIGroups: []string{""}, Resources: []string{"services", "pods"}, Verbs: []string{"get", "list"}},
	}}
	if _, err := cs.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "limited"}, RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "read-only"},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "limited"}}}
	if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tg, err := New(Config{Kubeconfig: c.Kubeconfig(t, "limited"), Namespace: ns, Traffic: TrafficReplicas, AbortCleanupDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	err = tg.Apply(ctx, desired(version("v1", 90), version("v2", 10)))
	for _, want := range []string{`user "limited" cannot create deployments.apps, patch deployments.apps, delete deployments.apps, create services, patch services`, `in namespace "rbac"`, "nothing was changed", "needs a Role"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v does not say %q", err, want)
		}
	}
	check()
}

// An image that cannot be pulled stops the change with the kubelet's reason;
// the canary is removed and the stable Deployment untouched.
func TestImagePullFailure(t *testing.T) {
	c := kube.Get(t)
	ns := c.Namespace(t, "pull")
	tg := newTarget(t, c, ns, TrafficReplicas)
	check := stableUntouched(t, c, tg, ns)
	bad := version("v2", 10)
	bad.Artifact = image("pullfail", "v2")
	err := tg.Apply(context.Background(), desired(version("v1", 90), bad))
	if !errors.Is(err, target.ErrUnhealthy) || !strings.Contains(err.Error(), "ImagePullBackOff") || !strings.Contains(err.Error(), "version v2") {
		t.Fatalf("got %v", err)
	}
	check()
	if got := weights(t, tg); !equal(got, map[string]float64{"v1": 100}) {
		t.Fatalf("weights %v", got)
	}
}

// A crashing version: CrashLoopBackOff is the error, the canary is removed
// and the stable Deployment untouched.
func TestCrashLoopReported(t *testing.T) {
	c := kube.Get(t)
	ns := c.Namespace(t, "crash")
	tg := newTarget(t, c, ns, TrafficReplicas)
	check := stableUntouched(t, c, tg, ns)
	err := tg.Apply(context.Background(), desired(version("v1", 90), sick("v2", 10)))
	if !errors.Is(err, target.ErrUnhealthy) || !strings.Contains(err.Error(), "CrashLoopBackOff") {
		t.Fatalf("got %v", err)
	}
	check()
}

func TestTagRefused(t *testing.T) {
	tg, err := New(Config{REST: &rest.Config{Host: "https://127.0.0.1:1"}, Namespace: "x", Registry: registry})
	if err != nil {
		t.Fatal(err)
	}
	v := version("v1", 100)
	for _, art := range []string{registry + "/hello:v1", registry + "/hello:latest", "other.test/hello@sha256:" + strings.Repeat("a", 64)} {
		v.Artifact = art
		err := tg.Apply(context.Background(), desired(v))
		if !errors.Is(err, target.ErrArtifact) {
			t.Fatalf("%s: got %v", art, err)
		}
	}
}

// A version whose pods never become ready and report nothing: the
// Deployment's progress deadline (the health timeout) passes, and the
// deployment controller's ProgressDeadlineExceeded is the reason.
func TestProgressDeadlineExceeded(t *testing.T) {
	c := kube.Get(t)
	ns := c.Namespace(t, "deadline")
	tg := newTarget(t, c, ns, TrafficReplicas)
	check := stableUntouched(t, c, tg, ns)
	slow := version("v2", 10)
	slow.Artifact = image("pending", "v2")
	slow.Health.HealthTimeout = 2 * time.Second
	err := tg.Apply(context.Background(), desired(version("v1", 90), slow))
	if !errors.Is(err, target.ErrUnhealthy) || !strings.Contains(err.Error(), "ProgressDeadlineExceeded") {
		t.Fatalf("got %v", err)
	}
	check()
}

// A serving version whose pods start crashing after it was deployed: Observe
// shows the kubelet's reason and the restarts as evidence.
func TestObserveReportsProblems(t *testing.T) {
	c := kube.Get(t)
	ns := c.Namespace(t, "problems")
	tg := newTarget(t, c, ns, TrafficReplicas)
	ctx := context.Background()
	if err := tg.Apply(ctx, desired(version("v1", 100))); err != nil {
		t.Fatal(err)
	}
	cs := c.Client(t)
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "belay.dev/version=v1"})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("pods: %v", err)
	}
	pod := pods.Items[0]
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations["belay.test/crash"] = "true" // kwok's stage then plays a kubelet whose container crashes
	if _, err := cs.CoreV1().Pods(ns).Update(ctx, &pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		o, err := tg.Observe(ctx, "production", "hello")
		if err != nil {
			t.Fatal(err)
		}
		v := o.Versions[0]
		if len(v.Problems) > 0 && v.Ready < v.Instances { // the pod's status, then the Deployment's
			if v.Restarts != 3 || v.Ready != 3 || !strings.HasPrefix(v.Problems[0], "CrashLoopBackOff") {
				t.Fatalf("observed %+v", v)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no problem observed a minute after a pod began crashing: %+v", v)
		}
	}
}

// Log forwarding is the agent's: refused before anything is changed.
func TestLogForwardingRefused(t *testing.T) {
	tg, err := New(Config{REST: &rest.Config{Host: "https://127.0.0.1:1"}, Namespace: "x", Traffic: TrafficReplicas})
	if err != nil {
		t.Fatal(err)
	}
	d := desired(version("v1", 100))
	d.Logs = &target.LogForward{URL: "https://logs.example/ingest"}
	err = tg.Apply(context.Background(), d)
	if !errors.Is(err, target.ErrInvalid) || !strings.Contains(err.Error(), "does not ship logs (log_forwarding") || strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("got %v", err)
	}
}

// A Role with exactly the verbs the pre-check asks for is enough for a
// whole rollout: server-side apply needs create to make an object.
func TestRoleWithListedVerbs(t *testing.T) {
	c := kube.Get(t)
	installGatewayAPI(t, c)
	ns := c.Namespace(t, "rbac-exact")
	cs := c.Client(t)
	ctx := context.Background()
	rules := map[[2]string][]string{}
	var order [][2]string
	for _, n := range needs(TrafficGateway) {
		k := [2]string{n.group, n.resource}
		if rules[k] == nil {
			order = append(order, k)
		}
		rules[k] = append(rules[k], n.verb)
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "listed"}}
	for _, k := range order {
		role.Rules = append(role.Rules, rbacv1.PolicyRule{APIGroups: []string{k[0]}, Resources: []string{k[1]}, Verbs: rules[k]})
	}
	if _, err := cs.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "limited"}, RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "listed"},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "limited"}}}
	if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tg, err := New(Config{Kubeconfig: c.Kubeconfig(t, "limited"), Namespace: ns, Traffic: TrafficGateway, Gateway: GatewayRef{Name: "web"},
		AbortCleanupDelay: -1, Registry: registry, Poll: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	canary := version("v2", 10)
	canary.Run.SecretEnv = map[string]string{"TOKEN": "x"}
	for i, d := range []target.Desired{desired(version("v1", 100)), desired(version("v1", 90), canary), desired(version("v1", 100))} {
		if err := tg.Apply(ctx, d); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
}
