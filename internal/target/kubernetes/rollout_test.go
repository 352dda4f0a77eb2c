package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/belay-dev/belay/internal/target"
	"github.com/belay-dev/belay/internal/testenv/kube"
)

func desired(vs ...target.Version) target.Desired {
	return target.Desired{Environment: "production", Service: "hello", Listen: ":80", Versions: vs}
}

func weights(t *testing.T, tg *Target) map[string]float64 {
	t.Helper()
	o, err := tg.Observe(context.Background(), "production", "hello")
	if err != nil {
		t.Fatal(err)
	}
	w := map[string]float64{}
	for _, v := range o.Versions {
		if v.Ready != v.Instances {
			t.Fatalf("version %s: %d of %d ready after Apply", v.Version, v.Ready, v.Instances)
		}
		w[v.Version] = v.Weight
	}
	return w
}

// The rollout sequence a canary walks, then a rollback to v1: on both
// traffic modes, v1's Deployment comes back by digest, the weights return,
// and nothing of v2 is left.
func TestRolloutAndRollback(t *testing.T) {
	c := kube.Get(t)
	installGatewayAPI(t, c)
	for _, mode := range []Traffic{TrafficGateway, TrafficReplicas} {
		t.Run(string(mode), func(t *testing.T) {
			ns := c.Namespace(t, "rollout-"+string(mode))
			tg := newTarget(t, c, ns, mode)
			ctx := context.Background()
			v2 := func(w float64) target.Version {
				v := version("v2", w)
				v.Run.Secrets = []string{"TOKEN"}
				v.Run.SecretEnv = map[string]string{"TOKEN": "s3cret-value"}
				return v
			}
			steps := []struct {
				want target.Desired
				gw   map[string]float64 // exact weights (gateway)
				rep  map[string]float64 // weights from 4 replicas
			}{
				{desired(version("v1", 100)), map[string]float64{"v1": 100}, map[string]float64{"v1": 100}},
				{desired(version("v1", 90), v2(10)), map[string]float64{"v1": 90, "v2": 10}, map[string]float64{"v1": 75, "v2": 25}},
				{desired(version("v1", 50), v2(50)), map[string]float64{"v1": 50, "v2": 50}, map[string]float64{"v1": 50, "v2": 50}},
				{desired(version("v1", 0), v2(100)), map[string]float64{"v1": 0, "v2": 100}, map[string]float64{"v1": 0, "v2": 100}},
			}
			for i, s := range steps {
				if err := tg.Apply(ctx, s.want); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				want := s.gw
				if mode == TrafficReplicas {
					want = s.rep
				}
				if got := weights(t, tg); !equal(got, want) {
					t.Fatalf("step %d: weights %v, want %v", i, got, want)
				}
			}
			// v2's secret is a Secret the Deployment refers to, never a value in it.
			d := deployment(t, c, ns, objectName("production", "hello", "v2"))
			raw, _ := json.Marshal(d)
			if strings.Contains(string(raw), "s3cret-value") {
				t.Fatal("a secret value is in the Deployment")
			}
			if ef := d.Spec.Template.Spec.Containers[0].EnvFrom; len(ef) != 1 || ef[0].SecretRef == nil || ef[0].SecretRef.Name != objectName("production", "hello", "v2")+"-env" {
				t.Fatalf("envFrom %+v", ef)
			}
			sec, err := c.Client(t).CoreV1().Secrets(ns).Get(ctx, objectName("production", "hello", "v2")+"-env", metav1.GetOptions{})
			if err != nil || string(sec.Data["TOKEN"]) != "s3cret-value" {
				t.Fatalf("secret: %v %v", sec, err)
			}
			checkLabels(t, d.Labels, "v2")
			checkLabels(t, d.Spec.Template.Labels, "v2")
			if a := d.Spec.Template.Annotations; a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != "8080" || a["prometheus.io/path"] != "/metrics" {
				t.Fatalf("scrape annotations %v", a)
			}

			// Rollback: the previous stable's Desired again.
			if err := tg.Apply(ctx, desired(version("v1", 100))); err != nil {
				t.Fatal(err)
			}
			if got := weights(t, tg); !equal(got, map[string]float64{"v1": 100}) {
				t.Fatalf("after rollback: %v", got)
			}
			if img := deployment(t, c, ns, objectName("production", "hello", "v1")).Spec.Template.Spec.Containers[0].Image; img != image("hello", "v1") {
				t.Fatalf("v1 runs %s after the rollback", img)
			}
			assertGone(t, c, ns, objectName("production", "hello", "v2"))
			if mode == TrafficGateway {
				r, err := tg.gw.GatewayV1().HTTPRoutes(ns).Get(ctx, base("production", "hello"), metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if refs := r.Spec.Rules[0].BackendRefs; len(refs) != 1 || string(refs[0].Name) != objectName("production", "hello", "v1") || *refs[0].Weight != 10000 {
					t.Fatalf("route backends after rollback: %+v", refs)
				}
			}
		})
	}
}

func checkLabels(t *testing.T, l map[string]string, version string) {
	t.Helper()
	if l["app.kubernetes.io/name"] != "hello" || l["belay.dev/version"] != version || l["belay.dev/environment"] != "production" || l["app.kubernetes.io/managed-by"] != "belay" {
		t.Fatalf("labels %v", l)
	}
}

func equal(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if w, ok := a[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// assertGone checks that nothing of one version is left: Deployment,
// per-version Service, Secret, pods.
func assertGone(t *testing.T, c *kube.Cluster, ns, name string) {
	t.Helper()
	cs := c.Client(t)
	ctx := context.Background()
	if _, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("Deployment %s still there (%v)", name, err)
	}
	if _, err := cs.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("Service %s still there (%v)", name, err)
	}
	if _, err := cs.CoreV1().Secrets(ns).Get(ctx, name+"-env", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("Secret %s-env still there (%v)", name, err)
	}
}

// fakeClock is an honest clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeClock) Now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fakeClock) Add(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// An aborted canary is scaled to zero at once and deleted once the delay
// has passed: no Deployment, Service, Secret or route backend is left.
func TestAbortCleanup(t *testing.T) {
	c := kube.Get(t)
	installGatewayAPI(t, c)
	ns := c.Namespace(t, "abort")
	clock := &fakeClock{now: time.Now()}
	tg := newTarget(t, c, ns, TrafficGateway, func(cfg *Config) { cfg.AbortCleanupDelay = 5 * time.Minute; cfg.Clock = clock.Now })
	ctx := context.Background()
	canary := version("v2", 10)
	canary.Run.SecretEnv = map[string]string{"TOKEN": "x"}
	for _, d := range []target.Desired{desired(version("v1", 100)), desired(version("v1", 90), canary), desired(version("v1", 100))} {
		if err := tg.Apply(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	d := deployment(t, c, ns, objectName("production", "hello", "v2"))
	if *d.Spec.Replicas != 0 || d.Annotations[AnnotationDeleteAfter] == "" {
		t.Fatalf("aborted canary: replicas %d, delete-after %q", *d.Spec.Replicas, d.Annotations[AnnotationDeleteAfter])
	}
	if got := weights(t, tg); !equal(got, map[string]float64{"v1": 100}) {
		t.Fatalf("after the abort: %v", got)
	}
	r, err := tg.gw.GatewayV1().HTTPRoutes(ns).Get(ctx, base("production", "hello"), metav1.GetOptions{})
	if err != nil || len(r.Spec.Rules[0].BackendRefs) != 1 {
		t.Fatalf("route after the abort: %+v %v", r, err)
	}
	clock.Add(5*time.Minute + time.Second)
	if _, err := tg.Observe(ctx, "production", "hello"); err != nil {
		t.Fatal(err)
	}
	assertGone(t, c, ns, objectName("production", "hello", "v2"))
}

// Service hello in environment prod-v1 and version v1 of hello in prod were
// both named hello-prod-v1 (the service-wide Service of one, the version
// Service of the other): each keeps its own now. And an object of belay's
// name that is not belay's for this service is refused, not taken over.
func TestNamesDoNotCollide(t *testing.T) {
	c := kube.Get(t)
	installGatewayAPI(t, c)
	ns := c.Namespace(t, "collide")
	tg := newTarget(t, c, ns, TrafficGateway)
	ctx := context.Background()
	for _, env := range []string{"prod", "prod-v1"} {
		d := desired(version("v1", 100))
		d.Environment = env
		if err := tg.Apply(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	cs := c.Client(t)
	for _, env := range []string{"prod", "prod-v1"} {
		for _, name := range []string{base(env, "hello"), objectName(env, "hello", "v1")} {
			s, err := cs.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if s.Spec.Selector[LabelEnvironment] != env {
				t.Fatalf("Service %s of %s selects %v", name, env, s.Spec.Selector)
			}
		}
	}

	own := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: base("staging", "hello"), Labels: map[string]string{"team": "web"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}}}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, own, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d := desired(version("v1", 100))
	d.Environment = "staging"
	err := tg.Apply(ctx, d)
	if !errors.Is(err, target.ErrInvalid) || !strings.Contains(err.Error(), "Service "+own.Name+" in namespace collide is not belay's for service hello in environment staging") {
		t.Fatalf("got %v", err)
	}
	if s, err := cs.CoreV1().Services(ns).Get(ctx, own.Name, metav1.GetOptions{}); err != nil || s.Spec.Selector["app"] != "web" {
		t.Fatalf("the user's Service was changed: %+v %v", s, err)
	}
	if _, err := cs.AppsV1().Deployments(ns).Get(ctx, objectName("staging", "hello", "v1"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a Deployment was made beside a refused Service (%v)", err)
	}
}

// Cleanup deletes what belay made for the version, never an object of the
// same name that is someone else's: in replicas mode no per-version Service
// is made, and a canary without SecretEnv has no Secret.
func TestCleanupDeletesOnlyBelays(t *testing.T) {
	c := kube.Get(t)
	ns := c.Namespace(t, "cleanup-owner")
	tg := newTarget(t, c, ns, TrafficReplicas)
	cs := c.Client(t)
	ctx := context.Background()
	name := objectName("production", "hello", "v2")
	mine := metav1.ObjectMeta{Name: name, Labels: map[string]string{"team": "web"}}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: mine,
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mine.Name = name + "-env"
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: mine, StringData: map[string]string{"K": "v"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []target.Desired{desired(version("v1", 100)), desired(version("v1", 90), version("v2", 10)), desired(version("v1", 100))} {
		if err := tg.Apply(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the canary's Deployment is still there (%v)", err)
	}
	if _, err := cs.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
		t.Fatalf("the user's Service %s was deleted: %v", name, err)
	}
	if _, err := cs.CoreV1().Secrets(ns).Get(ctx, name+"-env", metav1.GetOptions{}); err != nil {
		t.Fatalf("the user's Secret %s-env was deleted: %v", name, err)
	}
}

// A rotated secret value reaches the Secret and rolls the version's pods;
// when the changed version then fails, the Secret gets its old value back
// with the Deployment.
func TestSecretRotation(t *testing.T) {
	c := kube.Get(t)
	ns := c.Namespace(t, "secret-rotation")
	tg := newTarget(t, c, ns, TrafficReplicas)
	cs := c.Client(t)
	ctx := context.Background()
	name := objectName("production", "hello", "v1")
	withToken := func(v target.Version, token string) target.Version {
		v.Run.SecretEnv = map[string]string{"TOKEN": token}
		return v
	}
	token := func() string {
		t.Helper()
		s, err := cs.CoreV1().Secrets(ns).Get(ctx, name+"-env", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return string(s.Data["TOKEN"])
	}
	if err := tg.Apply(ctx, desired(withToken(version("v1", 100), "old"))); err != nil {
		t.Fatal(err)
	}
	before := deployment(t, c, ns, name).Spec.Template.Annotations[AnnotationSecretHash]
	if err := tg.Apply(ctx, desired(withToken(version("v1", 100), "new"))); err != nil {
		t.Fatal(err)
	}
	if got := token(); got != "new" {
		t.Fatalf("after the rotation the Secret holds %q", got)
	}
	rolled := deployment(t, c, ns, name)
	if after := rolled.Spec.Template.Annotations[AnnotationSecretHash]; after == before || after == "" {
		t.Fatalf("the pod template's secret hash did not change: %q → %q", before, after)
	}
	broken := withToken(sick("v1", 100), "bad")
	if err := tg.Apply(ctx, desired(broken)); err == nil {
		t.Fatal("a crash-looping change was applied")
	}
	if got := token(); got != "new" {
		t.Fatalf("after the undo the Secret holds %q", got)
	}
	if d := deployment(t, c, ns, name); d.Spec.Template.Spec.Containers[0].Image != image("hello", "v1") {
		t.Fatalf("after the undo v1 runs %s", d.Spec.Template.Spec.Containers[0].Image)
	}
}

// A canary that is not ready stops the change before anything serving
// moves: the stable keeps its replicas and the weights stay as they were,
// even when Apply had nothing to start (the canary went bad after it was
// ready, and the stable only loses replicas).
func TestUnreadyCanaryLeavesStable(t *testing.T) {
	c := kube.Get(t)
	installGatewayAPI(t, c)
	for _, mode := range []Traffic{TrafficGateway, TrafficReplicas} {
		t.Run(string(mode), func(t *testing.T) {
			ns := c.Namespace(t, "unready-"+string(mode))
			tg := newTarget(t, c, ns, mode)
			cs := c.Client(t)
			ctx := context.Background()
			for _, d := range []target.Desired{desired(version("v1", 100)), desired(version("v1", 90), version("v2", 10))} {
				if err := tg.Apply(ctx, d); err != nil {
					t.Fatal(err)
				}
			}
			stable := objectName("production", "hello", "v1")
			before := *deployment(t, c, ns, stable).Spec.Replicas
			d := deployment(t, c, ns, objectName("production", "hello", "v2"))
			d.Spec.Template.Spec.Containers[0].Image = image("crashloop", "v2")
			if _, err := cs.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			v1, v2 := version("v1", 90), version("v2", 10)
			v1.Instances, v2.Instances = 2, 2
			if err := tg.Apply(ctx, desired(v1, v2)); err == nil {
				t.Fatal("Apply moved on past a canary that is not ready")
			}
			if after := *deployment(t, c, ns, stable).Spec.Replicas; after != before {
				t.Fatalf("the stable's replicas went %d → %d", before, after)
			}
			if mode == TrafficGateway {
				r, err := tg.gw.GatewayV1().HTTPRoutes(ns).Get(ctx, base("production", "hello"), metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if refs := r.Spec.Rules[0].BackendRefs; len(refs) != 2 || *refs[0].Weight != 9000 || *refs[1].Weight != 1000 {
					t.Fatalf("route backends: %+v", refs)
				}
			}
		})
	}
}

// When the weights cannot be written, the canary start brought up goes
// away again and the stable keeps its replicas and route.
func TestTrafficFailureUndoesStart(t *testing.T) {
	c := kube.Get(t)
	installGatewayAPI(t, c)
	ns := c.Namespace(t, "traffic-fails")
	tg := newTarget(t, c, ns, TrafficGateway)
	cs := c.Client(t)
	ctx := context.Background()
	if err := tg.Apply(ctx, desired(version("v1", 100))); err != nil {
		t.Fatal(err)
	}
	// An admission policy refuses a 50/50 route in this namespace.
	fail := admissionv1.Deny
	policy := &admissionv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "no-even-split-" + ns},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{FailurePolicy: ptr(admissionv1.Fail),
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{RuleWithOperations: admissionv1.RuleWithOperations{
				Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
				Rule:       admissionv1.Rule{APIGroups: []string{"gateway.networking.k8s.io"}, APIVersions: []string{"v1"}, Resources: []string{"httproutes"}}}}}},
			Validations: []admissionv1.Validation{{Expression: "!has(object.spec.rules) || object.spec.rules.all(r, !has(r.backendRefs) || r.backendRefs.all(b, !has(b.weight) || b.weight != 5000))"}}}}
	if _, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().Delete(context.Background(), policy.Name, metav1.DeleteOptions{})
	})
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: policy.Name},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: policy.Name, ValidationActions: []admissionv1.ValidationAction{fail},
			MatchResources: &admissionv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}}}}
	if _, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Delete(context.Background(), binding.Name, metav1.DeleteOptions{})
	})
	v1, v2 := version("v1", 50), version("v2", 50)
	probe := tg.route(desired(v1, v2), tg.plans(desired(v1, v2), TrafficGateway), 80)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		_, err := tg.gw.GatewayV1().HTTPRoutes(ns).Apply(ctx, probe, metav1.ApplyOptions{FieldManager: "probe", Force: true, DryRun: []string{metav1.DryRunAll}})
		if err != nil && strings.Contains(err.Error(), policy.Name) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the admission policy never took effect")
		}
	}
	before := *deployment(t, c, ns, objectName("production", "hello", "v1")).Spec.Replicas
	if err := tg.Apply(ctx, desired(v1, v2)); err == nil {
		t.Fatal("Apply succeeded though the route was refused")
	}
	if _, err := cs.AppsV1().Deployments(ns).Get(ctx, objectName("production", "hello", "v2"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the canary is still there after the route was refused (%v)", err)
	}
	if after := *deployment(t, c, ns, objectName("production", "hello", "v1")).Spec.Replicas; after != before {
		t.Fatalf("the stable's replicas went %d → %d", before, after)
	}
	r, err := tg.gw.GatewayV1().HTTPRoutes(ns).Get(ctx, base("production", "hello"), metav1.GetOptions{})
	if err != nil || len(r.Spec.Rules[0].BackendRefs) != 1 || *r.Spec.Rules[0].BackendRefs[0].Weight != 10000 {
		t.Fatalf("route after the refusal: %+v %v", r, err)
	}
}

func ptr[T any](v T) *T { return &v }
