package kubernetes

import (
	"context"
	"fmt"
	"slices"
	"strings"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const gatewayGroupVersion = "gateway.networking.k8s.io/v1"

// mode is the configured traffic mode, or the one the cluster allows:
// Gateway when it serves gateway.networking.k8s.io/v1 HTTPRoute.
func (t *Target) mode(ctx context.Context) (Traffic, error) {
	if t.cfg.Traffic != TrafficAuto {
		return t.cfg.Traffic, nil
	}
	if t.cfg.Gateway.Name == "" {
		return TrafficReplicas, nil
	}
	res, err := t.kube.Discovery().ServerResourcesForGroupVersion(gatewayGroupVersion)
	if apierrors.IsNotFound(err) {
		return TrafficReplicas, nil
	}
	if err != nil {
		return "", t.apiError(err, "looking for the Gateway API")
	}
	for _, r := range res.APIResources {
		if r.Name == "httproutes" {
			return TrafficGateway, nil
		}
	}
	return TrafficReplicas, nil
}

// need is one permission Apply uses.
type need struct{ group, resource, verb string }

func (n need) String() string {
	if n.group == "" {
		return n.verb + " " + n.resource
	}
	return n.verb + " " + n.resource + "." + n.group
}

// Permission is what the target does to one resource in its namespace.
type Permission struct {
	Group, Resource string
	Verbs           []string
}

// permissions is every namespaced call the target makes (Apply, Observe,
// Drift, cleanup); Gateway marks those only gateway mode makes. A
// server-side apply is a PATCH, which the API server authorizes as create
// when the object does not exist yet, so applying needs both. Its
// cluster-scoped calls are discovery (the Gateway API's group version),
// get namespaces (optional: forbidden is tolerated), and create
// selfsubjectaccessreviews and selfsubjectreviews, which the default
// ClusterRoles system:discovery and system:basic-user grant every
// authenticated user.
var permissions = []struct {
	Permission
	Gateway bool
}{
	{Permission{"apps", "deployments", []string{"get", "list", "create", "patch", "delete"}}, false},
	{Permission{"", "services", []string{"get", "create", "patch", "delete"}}, false},
	{Permission{"", "secrets", []string{"get", "create", "patch", "delete"}}, false},
	{Permission{"", "pods", []string{"list"}}, false},
	{Permission{"gateway.networking.k8s.io", "httproutes", []string{"get", "create", "patch", "delete"}}, true},
}

// Permissions is what the target needs in a namespace it deploys into,
// for both traffic modes: what a Role for it must grant (belay k8s
// manifests), and what Apply checks before changing anything.
func Permissions() []Permission {
	var out []Permission
	for _, p := range permissions {
		out = append(out, Permission{p.Group, p.Resource, slices.Clone(p.Verbs)})
	}
	return out
}

func needs(mode Traffic) []need {
	var ns []need
	for _, p := range permissions {
		if p.Gateway && mode != TrafficGateway {
			continue
		}
		for _, v := range p.Verbs {
			ns = append(ns, need{p.Group, p.Resource, v})
		}
	}
	return ns
}

// preflight checks, before anything is changed, that the namespace exists
// and that the kubeconfig's user may do everything Apply does there, so a
// missing permission cannot leave a change half-applied.
func (t *Target) preflight(ctx context.Context, mode Traffic) error {
	ns := t.cfg.Namespace
	_, err := t.kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("kubernetes: namespace %q does not exist on %s; create it (kubectl create namespace %s) or point the environment at an existing one", ns, t.server, ns)
	case err != nil && !apierrors.IsForbidden(err): // reading namespaces is not needed
		return t.apiError(err, "reading namespace "+ns)
	}
	var missing []string
	for _, n := range needs(mode) {
		r := &authzv1.SelfSubjectAccessReview{Spec: authzv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authzv1.ResourceAttributes{
			Namespace: ns, Group: n.group, Resource: n.resource, Verb: n.verb,
		}}}
		got, err := t.kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, r, metav1.CreateOptions{})
		if err != nil {
			return t.apiError(err, "checking the kubeconfig's permissions")
		}
		if !got.Status.Allowed {
			missing = append(missing, n.String())
		}
	}
	if len(missing) == 0 {
		return nil
	}
	var all []string
	for _, n := range needs(mode) {
		all = append(all, n.String())
	}
	return fmt.Errorf("kubernetes: the kubeconfig's user%s cannot %s in namespace %q on %s; nothing was changed. The user needs a Role (and RoleBinding) in %s allowing: %s (see docs/kubernetes.md)",
		t.user(ctx), strings.Join(missing, ", "), ns, t.server, ns, strings.Join(all, ", "))
}

// user names the kubeconfig's user for errors, when the server says.
func (t *Target) user(ctx context.Context) string {
	r, err := t.kube.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil || r.Status.UserInfo.Username == "" {
		return ""
	}
	return fmt.Sprintf(" %q", r.Status.UserInfo.Username)
}
