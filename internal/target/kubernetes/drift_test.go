package kubernetes

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/belay-dev/belay/internal/target"
	"github.com/belay-dev/belay/internal/testenv/kube"
)

func deployment(t *testing.T, c *kube.Cluster, ns, name string) *appsv1.Deployment {
	t.Helper()
	d, err := c.Client(t).AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A person changes the image, the replicas and an environment variable
// with a client (as kubectl would): each is reported by field.
func TestDrift(t *testing.T) {
	c := kube.Get(t)
	ns := c.Namespace(t, "drift")
	tg := newTarget(t, c, ns, TrafficReplicas)
	ctx := context.Background()
	if err := tg.Apply(ctx, desired(version("v1", 100))); err != nil {
		t.Fatal(err)
	}
	if ds, err := tg.Drift(ctx, "production", "hello"); err != nil || len(ds) != 0 {
		t.Fatalf("drift right after apply: %v %v", ds, err)
	}
	d := deployment(t, c, ns, objectName("production", "hello", "v1"))
	d.Spec.Template.Spec.Containers[0].Image = image("hello", "hotfix")
	three := int32(3)
	d.Spec.Replicas = &three
	env := d.Spec.Template.Spec.Containers[0].Env
	for i := range env {
		if env[i].Name == "VERSION" {
			env[i].Value = "patched"
		}
	}
	d.Spec.Template.Spec.Containers[0].Env = append(env, corev1.EnvVar{Name: "DEBUG", Value: "1"})
	if _, err := c.Client(t).AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	ds, err := tg.Drift(ctx, "production", "hello")
	if err != nil {
		t.Fatal(err)
	}
	obj := "Deployment/" + objectName("production", "hello", "v1")
	want := []target.Drift{
		{Object: obj, Field: "spec.replicas", Want: "4", Found: "3"},
		{Object: obj, Field: "spec.template.spec.containers[app].image", Want: image("hello", "v1"), Found: image("hello", "hotfix")},
		{Object: obj, Field: "spec.template.spec.containers[app].env[DEBUG]", Want: "(unset)", Found: "1"},
		{Object: obj, Field: "spec.template.spec.containers[app].env[VERSION]", Want: "v1", Found: "patched"},
	}
	if len(ds) != len(want) {
		t.Fatalf("drift %+v, want %+v", ds, want)
	}
	for i := range want {
		if ds[i] != want[i] {
			t.Fatalf("drift %d: %+v, want %+v", i, ds[i], want[i])
		}
	}
	// Applying again puts belay's fields back. A variable belay never set stays: server-side
	// apply leaves fields another manager owns, and Drift keeps saying so.
	if err := tg.Apply(ctx, desired(version("v1", 100))); err != nil {
		t.Fatal(err)
	}
	ds, err = tg.Drift(ctx, "production", "hello")
	if err != nil || len(ds) != 1 || ds[0] != want[2] {
		t.Fatalf("drift after applying again: %+v %v", ds, err)
	}
}
