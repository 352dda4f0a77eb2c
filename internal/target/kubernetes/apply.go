package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"

	"github.com/belay-dev/belay/internal/target"
)

// Apply makes the service's Deployments, Services, Secrets and weights
// match want. New or changed versions are started and must be ready before
// any weight or replica count of a serving version changes; if one never
// is, it is removed (or its previous pod template re-applied) and the
// serving versions are left as they were.
func (t *Target) Apply(ctx context.Context, want target.Desired) error {
	if err := t.validate(want); err != nil {
		return err
	}
	mode, err := t.mode(ctx)
	if err != nil {
		return err
	}
	if err := t.preflight(ctx, mode); err != nil {
		return err
	}
	current, err := t.deployments(ctx, want.Environment, want.Service)
	if err != nil {
		return err
	}
	ps := t.plans(want, mode)
	if err := t.claim(ctx, want, mode, ps); err != nil {
		return err
	}
	port := servicePort(want.Listen)
	undo, err := t.start(ctx, want, mode, ps, current, port)
	if err != nil {
		return err
	}
	// Nothing serving has changed yet. Every version must be ready as it
	// runs now (start skipped those it had no need to touch, which may have
	// gone bad since); then the weights; then the versions losing replicas
	// scale down, last, since in replicas mode that is the traffic shift.
	live := make([]plan, len(ps))
	for i, p := range ps {
		live[i] = p
		if _, rec := t.deployment(want, p, mode); unchanged(current[p.v.Version], rec, p) {
			live[i].replicas = *current[p.v.Version].Spec.Replicas
		}
	}
	if err := t.waitReady(ctx, live); err != nil {
		return undo(err)
	}
	if err := t.applyTraffic(ctx, want, mode, ps, port); err != nil {
		return undo(err)
	}
	for _, p := range ps {
		d, _ := t.deployment(want, p, mode)
		if err := t.applyDeployment(ctx, d); err != nil {
			return err
		}
	}
	if err := t.waitReady(ctx, ps); err != nil {
		return err
	}
	return t.retire(ctx, want, mode, current)
}

// unchanged says whether a version runs what belay would apply now, with at
// least the replicas it needs: start leaves it alone.
func unchanged(cur *appsv1.Deployment, rec applied, p plan) bool {
	return cur != nil && record(cur).Template == rec.Template && *cur.Spec.Replicas >= p.replicas && cur.Annotations[AnnotationDeleteAfter] == ""
}

// start applies the versions that are new, changed, or need more replicas
// than they have, and waits for them; on failure it undoes them. It
// returns the undo for a failure later on, before traffic moves.
func (t *Target) start(ctx context.Context, want target.Desired, mode Traffic, ps []plan, current map[string]*appsv1.Deployment, port int32) (func(error) error, error) {
	var started []plan
	prevSecret := map[string]map[string][]byte{} // by version: the data a Secret had before
	for _, p := range ps {
		d, rec := t.deployment(want, p, mode)
		cur := current[p.v.Version]
		if unchanged(cur, rec, p) {
			continue
		}
		if len(p.v.Run.SecretEnv) > 0 {
			old, err := t.kube.CoreV1().Secrets(t.cfg.Namespace).Get(ctx, secretName(p), metav1.GetOptions{})
			switch {
			case err == nil && cur != nil && owned(old, versionLabels(want.Environment, want.Service, p.v.Version)):
				prevSecret[p.v.Version] = old.Data
			case err != nil && !apierrors.IsNotFound(err):
				return nil, t.apiError(err, "reading Secret "+secretName(p))
			}
			if _, err := t.kube.CoreV1().Secrets(t.cfg.Namespace).Apply(ctx, t.secret(want, p), t.applyOpts()); err != nil {
				return nil, t.apiError(err, "applying Secret "+secretName(p))
			}
		}
		if mode == TrafficGateway {
			s := t.service(p.name, versionLabels(want.Environment, want.Service, p.v.Version), versionLabels(want.Environment, want.Service, p.v.Version), port)
			if _, err := t.kube.CoreV1().Services(t.cfg.Namespace).Apply(ctx, s, t.applyOpts()); err != nil {
				return nil, t.apiError(err, "applying Service "+p.name)
			}
		}
		if err := t.applyDeployment(ctx, d); err != nil {
			return nil, err
		}
		started = append(started, p)
	}
	// Undo: a version that was not there goes away at once (it never
	// served); one that was gets back what belay applied before.
	undo := func(err error) error {
		for _, p := range started {
			var uerr error
			if cur := current[p.v.Version]; cur == nil {
				uerr = t.remove(ctx, mode, want.Environment, want.Service, p.v.Version, p.name)
			} else if prev, xerr := appsv1ac.ExtractDeployment(cur, t.cfg.FieldManager); xerr == nil {
				uerr = t.applyDeployment(ctx, prev)
				if data, ok := prevSecret[p.v.Version]; ok {
					if _, serr := t.kube.CoreV1().Secrets(t.cfg.Namespace).Apply(ctx, t.secretData(want, p, data), t.applyOpts()); serr != nil {
						uerr = errors.Join(uerr, t.apiError(serr, "restoring Secret "+secretName(p)))
					}
				}
			} else {
				uerr = xerr
			}
			if uerr != nil {
				t.cfg.Log.Warn("kubernetes: undoing a version after a failed change", "deployment", p.name, "err", uerr)
				err = fmt.Errorf("%w (undoing %s also failed: %v)", err, p.name, uerr)
			}
		}
		return err
	}
	if err := t.waitReady(ctx, started); err != nil {
		return nil, undo(err)
	}
	return undo, nil
}

// claim refuses, before anything is changed, to apply over an object of
// the same name that belay did not make for this service, environment and
// version: every apply forces, so it would take the object over.
func (t *Target) claim(ctx context.Context, want target.Desired, mode Traffic, ps []plan) error {
	ns := t.cfg.Namespace
	env, svc := want.Environment, want.Service
	type object struct {
		kind, name string
		labels     map[string]string
		get        func() (metav1.Object, error)
	}
	var objs []object
	add := func(kind, name string, labels map[string]string, get func() (metav1.Object, error)) {
		objs = append(objs, object{kind, name, labels, get})
	}
	opts := metav1.GetOptions{}
	b := base(env, svc)
	add("Service", b, serviceLabels(env, svc), func() (metav1.Object, error) { return t.kube.CoreV1().Services(ns).Get(ctx, b, opts) })
	if mode == TrafficGateway {
		add("HTTPRoute", b, serviceLabels(env, svc), func() (metav1.Object, error) { return t.gw.GatewayV1().HTTPRoutes(ns).Get(ctx, b, opts) })
	}
	for _, p := range ps {
		l := versionLabels(env, svc, p.v.Version)
		add("Deployment", p.name, l, func() (metav1.Object, error) { return t.kube.AppsV1().Deployments(ns).Get(ctx, p.name, opts) })
		if mode == TrafficGateway {
			add("Service", p.name, l, func() (metav1.Object, error) { return t.kube.CoreV1().Services(ns).Get(ctx, p.name, opts) })
		}
		if len(p.v.Run.SecretEnv) > 0 {
			add("Secret", secretName(p), l, func() (metav1.Object, error) { return t.kube.CoreV1().Secrets(ns).Get(ctx, secretName(p), opts) })
		}
	}
	for _, o := range objs {
		got, err := o.get()
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return t.apiError(err, "reading "+o.kind+" "+o.name)
		}
		if !owned(got, o.labels) {
			l := got.GetLabels()
			return fmt.Errorf("%w: %s %s in namespace %s is not belay's for service %s in environment %s (its labels name service %q, environment %q, version %q, managed by %q); nothing was changed — rename or delete it, or deploy into another namespace",
				target.ErrInvalid, o.kind, o.name, ns, svc, env, l[LabelName], l[LabelEnvironment], l[LabelVersion], l[LabelManagedBy])
		}
	}
	return nil
}

// owned says whether an object carries every one of belay's labels want.
func owned(o metav1.Object, want map[string]string) bool {
	l := o.GetLabels()
	for _, k := range []string{LabelName, LabelEnvironment, LabelManagedBy, LabelVersion} {
		if l[k] != want[k] {
			return false
		}
	}
	return true
}

func (t *Target) applyOpts() metav1.ApplyOptions {
	return metav1.ApplyOptions{FieldManager: t.cfg.FieldManager, Force: true}
}

func (t *Target) applyDeployment(ctx context.Context, d *appsv1ac.DeploymentApplyConfiguration) error {
	if _, err := t.kube.AppsV1().Deployments(t.cfg.Namespace).Apply(ctx, d, t.applyOpts()); err != nil {
		return t.apiError(err, "applying Deployment "+*d.Name)
	}
	return nil
}

// applyTraffic writes the weights: the HTTPRoute's backends, or the
// service-wide Service over the serving versions' pods.
func (t *Target) applyTraffic(ctx context.Context, want target.Desired, mode Traffic, ps []plan, port int32) error {
	sl := serviceLabels(want.Environment, want.Service)
	sel := map[string]string{LabelName: want.Service, LabelEnvironment: want.Environment, LabelManagedBy: "belay"}
	if mode == TrafficReplicas {
		sel[LabelServing] = "true"
	}
	if _, err := t.kube.CoreV1().Services(t.cfg.Namespace).Apply(ctx, t.service(base(want.Environment, want.Service), sl, sel, port), t.applyOpts()); err != nil {
		return t.apiError(err, "applying Service "+base(want.Environment, want.Service))
	}
	if mode != TrafficGateway {
		return nil
	}
	routes := t.gw.GatewayV1().HTTPRoutes(t.cfg.Namespace)
	name := base(want.Environment, want.Service)
	if len(ps) == 0 {
		if err := routes.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return t.apiError(err, "deleting HTTPRoute "+name)
		}
		return nil
	}
	if _, err := routes.Apply(ctx, t.route(want, ps, port), t.applyOpts()); err != nil {
		return t.apiError(err, "applying HTTPRoute "+name)
	}
	return nil
}

// retire takes the versions absent from want out: scaled to zero now,
// deleted once the abort cleanup delay has passed (at once when negative).
func (t *Target) retire(ctx context.Context, want target.Desired, mode Traffic, current map[string]*appsv1.Deployment) error {
	keep := map[string]bool{}
	for _, v := range want.Versions {
		keep[v.Version] = true
	}
	var errs []error
	for version, d := range current {
		if keep[version] {
			continue
		}
		if t.cfg.AbortCleanupDelay < 0 {
			errs = append(errs, t.remove(ctx, mode, want.Environment, want.Service, version, d.Name))
			continue
		}
		if d.Annotations[AnnotationDeleteAfter] != "" && *d.Spec.Replicas == 0 {
			continue
		}
		ac, err := appsv1ac.ExtractDeployment(d, t.cfg.FieldManager)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rec := record(d)
		rec.Replicas = 0
		rj, _ := json.Marshal(rec)
		ac.WithAnnotations(map[string]string{
			AnnotationDeleteAfter: t.cfg.Clock().Add(t.cfg.AbortCleanupDelay).UTC().Format(time.RFC3339),
			AnnotationApplied:     string(rj),
		})
		if ac.Spec != nil {
			ac.Spec.WithReplicas(0)
		}
		errs = append(errs, t.applyDeployment(ctx, ac))
	}
	return errors.Join(errs...)
}

// sweep deletes the retired versions of a service whose delay has passed.
func (t *Target) sweep(ctx context.Context, mode Traffic, env, service string) error {
	current, err := t.deployments(ctx, env, service)
	if err != nil {
		return err
	}
	var errs []error
	for version, d := range current {
		at, err := time.Parse(time.RFC3339, d.Annotations[AnnotationDeleteAfter])
		if err == nil && !t.cfg.Clock().Before(at) {
			errs = append(errs, t.remove(ctx, mode, env, service, version, d.Name))
		}
	}
	return errors.Join(errs...)
}

// remove deletes one version's Deployment, per-version Service (gateway
// mode) and Secret: each only when it is there and belay's for this
// version, and only that object (a UID precondition), never a user's own
// object of the same name.
func (t *Target) remove(ctx context.Context, mode Traffic, env, service, version, name string) error {
	ns := t.cfg.Namespace
	l := versionLabels(env, service, version)
	fg := metav1.DeletePropagationBackground
	del := func(kind, name string, get func() (metav1.Object, error), del func(metav1.DeleteOptions) error) error {
		o, err := get()
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return t.apiError(err, "reading "+kind+" "+name)
		}
		if !owned(o, l) {
			return nil
		}
		uid := o.GetUID()
		err = del(metav1.DeleteOptions{PropagationPolicy: &fg, Preconditions: &metav1.Preconditions{UID: &uid}})
		if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) { // conflict: another object by now
			return nil
		}
		return t.apiError(err, "deleting "+kind+" "+name)
	}
	get := metav1.GetOptions{}
	errs := []error{del("Deployment", name,
		func() (metav1.Object, error) { return t.kube.AppsV1().Deployments(ns).Get(ctx, name, get) },
		func(o metav1.DeleteOptions) error { return t.kube.AppsV1().Deployments(ns).Delete(ctx, name, o) })}
	if mode == TrafficGateway {
		errs = append(errs, del("Service", name,
			func() (metav1.Object, error) { return t.kube.CoreV1().Services(ns).Get(ctx, name, get) },
			func(o metav1.DeleteOptions) error { return t.kube.CoreV1().Services(ns).Delete(ctx, name, o) }))
	}
	sn := name + "-env"
	errs = append(errs, del("Secret", sn,
		func() (metav1.Object, error) { return t.kube.CoreV1().Secrets(ns).Get(ctx, sn, get) },
		func(o metav1.DeleteOptions) error { return t.kube.CoreV1().Secrets(ns).Delete(ctx, sn, o) }))
	return errors.Join(errs...)
}

// deployments are belay's Deployments of a service, by version.
func (t *Target) deployments(ctx context.Context, env, service string) (map[string]*appsv1.Deployment, error) {
	list, err := t.kube.AppsV1().Deployments(t.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(serviceLabels(env, service)).String()})
	if err != nil {
		return nil, t.apiError(err, "listing Deployments of "+base(env, service))
	}
	out := map[string]*appsv1.Deployment{}
	for i := range list.Items {
		d := &list.Items[i]
		if v := d.Annotations[AnnotationVersion]; v != "" && d.DeletionTimestamp == nil {
			out[v] = d
		}
	}
	return out, nil
}

func record(d *appsv1.Deployment) applied {
	var rec applied
	_ = json.Unmarshal([]byte(d.Annotations[AnnotationApplied]), &rec)
	return rec
}
