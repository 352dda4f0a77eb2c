package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	k8s "github.com/belay-dev/belay/internal/target/kubernetes"
	"github.com/belay-dev/belay/internal/testenv"
	"github.com/belay-dev/belay/internal/testenv/kube"
)

func init() { scriptCmds["kube"] = cmdKube }

// kubeClient is the admin's client of the scripts' control plane, set by
// TestKubeScripts (nil elsewhere: the kube command then fails).
var kubeClient kubernetes.Interface

// TestKubeScripts runs the scripts that need a real Kubernetes control
// plane (internal/testenv/kube: etcd, kube-apiserver, controller-manager,
// scheduler, and kwok playing the kubelet), started once for them only, so
// that the other scripts do not wait for it. They get $KUBECONFIG (the
// admin's), $KUBE_SERVER, $REGISTRY (the test registry) and $PROMETHEUS_BIN.
func TestKubeScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real releases on a Kubernetes control plane")
	}
	c := kube.Get(t)
	reg := testenv.Registry(t)
	prom := testenv.PrometheusBin(t)
	kubeClient = c.Client(t)
	t.Cleanup(func() { kubeClient = nil })
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/kube",
		RequireExplicitExec: true,
		Cmds:                scriptCmds,
		Setup: func(env *testscript.Env) error {
			env.Setenv("BELAY_HOME", "")
			env.Setenv("BELAY_STATE", "")
			env.Setenv("KUBECONFIG", c.AdminKubeconfig)
			env.Setenv("KUBE_SERVER", c.Server)
			env.Setenv("REGISTRY", reg)
			env.Setenv("PROMETHEUS_BIN", prom)
			return nil
		},
	})
}

// kube does what an operator would do with kubectl, as the cluster's admin:
//
//	kube ns NAME...                      create namespaces (deleted at the script's end)
//	kube scale NS VERSION N              set the replicas of VERSION's Deployment outside belay
//	kube image NS VERSION REGEXP         the app container's image matches REGEXP
//	kube replicas NS VERSION N           the Deployment's spec.replicas is N
//	[!] kube exists NS VERSION           VERSION has a Deployment (! : it and its Service and Secret are gone)
//
// A version's Deployment is found by belay's labels (service and version).
func cmdKube(ts *testscript.TestScript, neg bool, args []string) {
	if kubeClient == nil {
		ts.Fatalf("kube: no control plane; scripts using it live in testdata/kube (TestKubeScripts)")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: kube ns|scale|image|replicas|exists …")
	}
	ctx := context.Background()
	find := func(ns, version string) (*appsv1.Deployment, error) {
		sel := labels.SelectorFromSet(labels.Set{k8s.LabelVersion: version, k8s.LabelManagedBy: "belay"}).String()
		l, err := kubeClient.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return nil, err
		}
		if len(l.Items) != 1 {
			return nil, fmt.Errorf("%d Deployments of version %s in %s", len(l.Items), version, ns)
		}
		return &l.Items[0], nil
	}
	switch args[0] {
	case "ns":
		for _, n := range args[1:] {
			_, err := kubeClient.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				ts.Fatalf("kube ns %s: %v", n, err)
			}
			ts.Defer(func() { _ = kubeClient.CoreV1().Namespaces().Delete(context.Background(), n, metav1.DeleteOptions{}) })
		}
	case "scale":
		if len(args) != 4 {
			ts.Fatalf("usage: kube scale NS VERSION N")
		}
		n, err := strconv.Atoi(args[3])
		ts.Check(err)
		patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, n)
		d, err := find(args[1], args[2])
		ts.Check(err)
		_, err = kubeClient.AppsV1().Deployments(args[1]).Patch(ctx, d.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: "kubectl-scale"})
		ts.Check(err)
	case "image", "replicas":
		if len(args) != 4 {
			ts.Fatalf("usage: kube %s NS VERSION VALUE", args[0])
		}
		d, err := find(args[1], args[2])
		ts.Check(err)
		var got string
		if args[0] == "image" {
			for _, c := range d.Spec.Template.Spec.Containers {
				if c.Name == "app" {
					got = c.Image
				}
			}
			if ok := regexp.MustCompile(args[3]).MatchString(got); ok == neg {
				ts.Fatalf("Deployment %s/%s's image is %s; want %smatching %s", args[1], args[2], got, map[bool]string{true: "not "}[neg], args[3])
			}
			ts.Logf("Deployment %s/%s: image %s", args[1], args[2], got)
			return
		}
		if d.Spec.Replicas != nil {
			got = strconv.Itoa(int(*d.Spec.Replicas))
		}
		if (got == args[3]) == neg {
			ts.Fatalf("Deployment %s/%s has %s replicas; want %s", args[1], args[2], got, args[3])
		}
	case "exists":
		if len(args) != 3 {
			ts.Fatalf("usage: kube exists NS VERSION")
		}
		d, err := find(args[1], args[2])
		if !neg {
			ts.Check(err)
			return
		}
		if d != nil {
			ts.Fatalf("version %s's Deployment %s/%s still exists", args[2], args[1], d.Name)
		}
		// and nothing else of it: its Service (gateway mode) and Secret
		sel := labels.SelectorFromSet(labels.Set{k8s.LabelVersion: args[2], k8s.LabelManagedBy: "belay"}).String()
		svcs, err := kubeClient.CoreV1().Services(args[1]).List(ctx, metav1.ListOptions{LabelSelector: sel})
		ts.Check(err)
		secs, err := kubeClient.CoreV1().Secrets(args[1]).List(ctx, metav1.ListOptions{LabelSelector: sel})
		ts.Check(err)
		if len(svcs.Items)+len(secs.Items) > 0 {
			ts.Fatalf("version %s left %d Services and %d Secrets in %s", args[2], len(svcs.Items), len(secs.Items), args[1])
		}
	default:
		ts.Fatalf("kube: unknown %q; want ns, scale, image, replicas or exists", args[0])
	}
}
