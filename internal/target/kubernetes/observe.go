package kubernetes

import (
	"context"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/belay-dev/belay/internal/target"
)

// Observe reports the service's versions (those not retired), their
// replicas, readiness, restarts and problems, and the weights in force:
// the HTTPRoute's, or each serving version's share of the ready replicas.
func (t *Target) Observe(ctx context.Context, env, service string) (target.Observed, error) {
	o := target.Observed{Environment: env, Service: service, Versions: []target.ObservedVersion{}}
	mode, err := t.mode(ctx)
	if err != nil {
		return o, err
	}
	if err := t.sweep(ctx, mode, env, service); err != nil {
		t.cfg.Log.Warn("kubernetes: deleting retired versions", "service", base(env, service), "err", err)
	}
	deps, err := t.deployments(ctx, env, service)
	if err != nil {
		return o, err
	}
	svc, err := t.kube.CoreV1().Services(t.cfg.Namespace).Get(ctx, base(env, service), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) && len(deps) == 0:
		return o, fmt.Errorf("%w: service %s in environment %s: no Deployment or Service %s in namespace %s", target.ErrNotFound, service, env, base(env, service), t.cfg.Namespace)
	case err == nil:
		if len(svc.Spec.Ports) > 0 {
			o.Listen = fmt.Sprintf("%s.%s.svc:%d", svc.Name, svc.Namespace, svc.Spec.Ports[0].Port)
		}
	case !apierrors.IsNotFound(err):
		return o, t.apiError(err, "reading Service "+base(env, service))
	}
	routeWeights, err := t.routeWeights(ctx, env, service, mode)
	if err != nil {
		return o, err
	}
	var servingReady int32
	for _, d := range deps {
		if d.Annotations[AnnotationDeleteAfter] == "" && d.Spec.Template.Labels[LabelServing] == "true" {
			servingReady += d.Status.ReadyReplicas
		}
	}
	for version, d := range deps {
		if d.Annotations[AnnotationDeleteAfter] != "" {
			continue
		}
		ov := target.ObservedVersion{Version: version, Instances: int(*d.Spec.Replicas), Ready: int(d.Status.ReadyReplicas)}
		if ov.Ready > ov.Instances {
			ov.Ready = ov.Instances // old pods still terminating
		}
		if ov.Restarts, err = t.podStats(ctx, d); err != nil {
			return o, err
		}
		if ov.Problems, _, err = t.problems(ctx, d); err != nil {
			return o, err
		}
		switch {
		case mode == TrafficGateway:
			ov.Weight = routeWeights[d.Name]
		case d.Spec.Template.Labels[LabelServing] == "true" && servingReady > 0:
			ov.Weight = float64(d.Status.ReadyReplicas) * 100 / float64(servingReady)
		}
		o.Versions = append(o.Versions, ov)
	}
	sort.Slice(o.Versions, func(i, j int) bool { return o.Versions[i].Version < o.Versions[j].Version })
	return o, nil
}

// routeWeights are the percents of the service's HTTPRoute, by backend name.
func (t *Target) routeWeights(ctx context.Context, env, service string, mode Traffic) (map[string]float64, error) {
	if mode != TrafficGateway {
		return nil, nil
	}
	r, err := t.gw.GatewayV1().HTTPRoutes(t.cfg.Namespace).Get(ctx, base(env, service), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, t.apiError(err, "reading HTTPRoute "+base(env, service))
	}
	out := map[string]float64{}
	var sum int64
	for _, rule := range r.Spec.Rules {
		for _, b := range rule.BackendRefs {
			w := int64(1)
			if b.Weight != nil {
				w = int64(*b.Weight)
			}
			sum += w
		}
	}
	for _, rule := range r.Spec.Rules {
		for _, b := range rule.BackendRefs {
			w := int64(1)
			if b.Weight != nil {
				w = int64(*b.Weight)
			}
			if sum > 0 {
				out[string(b.Name)] += float64(w) * 100 / float64(sum)
			}
		}
	}
	return out, nil
}
