package kubernetes

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/belay-dev/belay/internal/target"
)

// DefaultHealthTimeout bounds the wait for a version whose Health gives none.
const DefaultHealthTimeout = 2 * time.Minute

func healthTimeout(v target.Version) time.Duration {
	if v.Health.HealthTimeout > 0 {
		return v.Health.HealthTimeout
	}
	return DefaultHealthTimeout
}

// deadlineGrace is how long past a version's health timeout Apply waits
// for the deployment controller to mark its progress deadline (set to the
// health timeout) exceeded, so the error carries that verdict.
const deadlineGrace = 5 * time.Second

// fatalReasons are container states a kubelet reports for a version that
// will not become ready by waiting: the rollout stops at once.
var fatalReasons = map[string]bool{
	"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true,
	"CrashLoopBackOff": true, "CreateContainerConfigError": true, "CreateContainerError": true,
}

// rolledOut says whether a Deployment runs want ready replicas of its
// current template and nothing else.
func rolledOut(d *appsv1.Deployment, want int32) bool {
	s := d.Status
	return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.Replicas == want && s.ReadyReplicas >= want
}

// waitReady waits until every plan's Deployment is rolled out, and fails
// (wrapping target.ErrUnhealthy) with the reasons its pods give as soon as
// one reports a fatal reason, the Deployment's progress deadline passes,
// or its health timeout does.
func (t *Target) waitReady(ctx context.Context, ps []plan) error {
	start := t.cfg.Clock()
	for {
		pending := 0
		for _, p := range ps {
			d, err := t.kube.AppsV1().Deployments(t.cfg.Namespace).Get(ctx, p.name, metav1.GetOptions{})
			if err != nil {
				return t.apiError(err, "reading Deployment "+p.name)
			}
			if rolledOut(d, p.replicas) {
				continue
			}
			pending++
			problems, fatal, err := t.problems(ctx, d)
			if err != nil {
				return err
			}
			timedOut := t.cfg.Clock().Sub(start) > healthTimeout(p.v)+deadlineGrace
			if fatal || timedOut {
				why := "not ready"
				if timedOut {
					why = fmt.Sprintf("not ready after %s", healthTimeout(p.v))
				}
				return fmt.Errorf("%w: version %s (Deployment %s/%s) %s: %d of %d replicas ready; %s", target.ErrUnhealthy,
					p.v.Version, t.cfg.Namespace, p.name, why, d.Status.ReadyReplicas, p.replicas, orNone(problems))
			}
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(t.cfg.Poll):
		}
	}
}

func orNone(problems []string) string {
	if len(problems) == 0 {
		return "no reason reported yet"
	}
	return strings.Join(problems, "; ")
}

// problems are why a Deployment's pods are not ready, as the kubelet and the
// deployment controller report it; fatal when waiting will not help.
func (t *Target) problems(ctx context.Context, d *appsv1.Deployment) (problems []string, fatal bool, err error) {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
			problems = append(problems, "ProgressDeadlineExceeded: "+c.Message)
			fatal = true
		}
		if c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue {
			problems = append(problems, c.Reason+": "+c.Message)
		}
	}
	pods, err := t.kube.CoreV1().Pods(t.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(d.Spec.Selector.MatchLabels).String()})
	if err != nil {
		return nil, false, t.apiError(err, "listing the pods of "+d.Name)
	}
	seen := map[string]bool{}
	for _, pod := range pods.Items {
		for _, cs := range pod.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" {
				msg := w.Reason
				if w.Message != "" {
					msg += ": " + w.Message
				}
				if !seen[msg] {
					seen[msg] = true
					problems = append(problems, msg)
				}
				fatal = fatal || fatalReasons[w.Reason]
			}
		}
	}
	sort.Strings(problems)
	return problems, fatal, nil
}

// restarts sums the restarts of a Deployment's pods' containers.
func (t *Target) podStats(ctx context.Context, d *appsv1.Deployment) (restarts int64, err error) {
	pods, err := t.kube.CoreV1().Pods(t.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(d.Spec.Selector.MatchLabels).String()})
	if err != nil {
		return 0, t.apiError(err, "listing the pods of "+d.Name)
	}
	for _, pod := range pods.Items {
		for _, cs := range pod.Status.ContainerStatuses {
			restarts += int64(cs.RestartCount)
		}
	}
	return restarts, nil
}
