package kubernetes

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/belay-dev/belay/internal/target"
)

// Drift compares each of the service's live Deployments with what belay
// last applied to it (its belay.dev/applied annotation): the image, the
// replica count and the environment variables of the app container.
func (t *Target) Drift(ctx context.Context, env, service string) ([]target.Drift, error) {
	deps, err := t.deployments(ctx, env, service)
	if err != nil {
		return nil, err
	}
	versions := make([]string, 0, len(deps))
	for v := range deps {
		versions = append(versions, v)
	}
	sort.Strings(versions)
	var out []target.Drift
	for _, v := range versions {
		out = append(out, drift(deps[v])...)
	}
	return out, nil
}

func drift(d *appsv1.Deployment) []target.Drift {
	obj := "Deployment/" + d.Name
	if d.Annotations[AnnotationApplied] == "" {
		return []target.Drift{{Object: obj, Field: "metadata.annotations[" + AnnotationApplied + "]", Want: "belay's record of what it applied", Found: "none"}}
	}
	rec := record(d)
	var out []target.Drift
	add := func(field, want, found string) {
		if want != found {
			out = append(out, target.Drift{Object: obj, Field: field, Want: want, Found: found})
		}
	}
	replicas := int32(1)
	if d.Spec.Replicas != nil {
		replicas = *d.Spec.Replicas
	}
	add("spec.replicas", strconv.Itoa(int(rec.Replicas)), strconv.Itoa(int(replicas)))
	var app *corev1.Container
	for i := range d.Spec.Template.Spec.Containers {
		if d.Spec.Template.Spec.Containers[i].Name == "app" {
			app = &d.Spec.Template.Spec.Containers[i]
		}
	}
	if app == nil {
		return append(out, target.Drift{Object: obj, Field: "spec.template.spec.containers[app]", Want: "present", Found: "missing"})
	}
	add("spec.template.spec.containers[app].image", rec.Image, app.Image)
	live := map[string]string{}
	for _, e := range app.Env {
		val := e.Value
		if e.ValueFrom != nil {
			val = fmt.Sprintf("(from %s)", valueFrom(e.ValueFrom))
		}
		live[e.Name] = val
	}
	names := map[string]bool{}
	for k := range live {
		names[k] = true
	}
	for k := range rec.Env {
		names[k] = true
	}
	sorted := make([]string, 0, len(names))
	for k := range names {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		want, wok := rec.Env[k]
		found, fok := live[k]
		if !wok {
			want = "(unset)"
		}
		if !fok {
			found = "(unset)"
		}
		add("spec.template.spec.containers[app].env["+k+"]", want, found)
	}
	return out
}

func valueFrom(s *corev1.EnvVarSource) string {
	switch {
	case s.SecretKeyRef != nil:
		return "secret " + s.SecretKeyRef.Name + "/" + s.SecretKeyRef.Key
	case s.ConfigMapKeyRef != nil:
		return "configmap " + s.ConfigMapKeyRef.Name + "/" + s.ConfigMapKeyRef.Key
	case s.FieldRef != nil:
		return "field " + s.FieldRef.FieldPath
	}
	return "another source"
}
