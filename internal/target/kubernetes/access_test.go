package kubernetes

import (
	"context"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/belay-dev/belay/internal/testenv/kube"
)

// A user granted exactly Permissions() — the Role `belay k8s manifests`
// writes — can do everything: apply a version, a canary beside it, observe,
// read drift, and remove the old version. (TestManifests in
// internal/kubeinstall checks that the Role is exactly this list.)
func TestPermissionsAreEnough(t *testing.T) {
	c := kube.Get(t)
	ns := c.Namespace(t, "perms")
	cs := c.Client(t)
	ctx := context.Background()
	var rules []rbacv1.PolicyRule
	for _, p := range Permissions() {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{p.Group}, Resources: []string{p.Resource}, Verbs: p.Verbs})
	}
	if _, err := cs.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "belay-target"}, Rules: rules}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "belay-target"}, RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "belay-target"},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "limited"}}}
	if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tg, err := New(Config{Kubeconfig: c.Kubeconfig(t, "limited"), Namespace: ns, Traffic: TrafficReplicas, AbortCleanupDelay: -1, Registry: registry})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]float64{{100}, {75, 25}, {0, 100}} {
		d := desired(version("v1", want[0]))
		if len(want) > 1 {
			d = desired(version("v1", want[0]), version("v2", want[1]))
		}
		if want[0] == 0 {
			d = desired(version("v2", 100))
		}
		if err := tg.Apply(ctx, d); err != nil {
			t.Fatalf("apply %d as the Role's user: %v", i, err)
		}
		if _, err := tg.Observe(ctx, "production", "hello"); err != nil {
			t.Fatalf("observe %d: %v", i, err)
		}
		if dr, err := tg.Drift(ctx, "production", "hello"); err != nil || len(dr) > 0 {
			t.Fatalf("drift %d: %v %v", i, dr, err)
		}
	}
	if got := weights(t, tg); !equal(got, map[string]float64{"v2": 100}) {
		t.Fatalf("weights %v", got)
	}
}
