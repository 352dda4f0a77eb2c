package spec

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"time"
)

// Environment is one stage of promotion (staging, production, …).
type Environment struct {
	Name string `yaml:"name" json:"name" belay:"required"`
	// Listen is the default address of the environment's traffic proxy
	// (host:port) on the local target; services override it when several
	// share an environment. A kubernetes environment has no proxy of belay's.
	Listen string `yaml:"listen" json:"listen,omitempty"`
	// Target is where services run: local (the default: the belay agent on
	// this host, or the hosts listed) or kubernetes (Kubernetes below).
	Target TargetKind `yaml:"target" json:"target"`
	// Kubernetes is the cluster, namespace and registry of a target:
	// kubernetes environment (kubernetes.go).
	Kubernetes *Kubernetes `yaml:"kubernetes" json:"kubernetes,omitempty"`
	Protection *Protection `yaml:"protection" json:"protection,omitempty"`
	// AutoRollback lets triggers roll back without a human; default true.
	AutoRollback *bool `yaml:"auto_rollback" json:"auto_rollback"`
	// OnRejectedDownstream is what this environment does when a version it
	// runs as stable is rolled back in a later environment: keep (default)
	// or rollback. The last environment has no later one and may not set it.
	OnRejectedDownstream DownstreamPolicy `yaml:"on_rejected_downstream" json:"on_rejected_downstream"`
	// Flags change the project's flags here (state, defaultVariant, targeting).
	Flags map[string]*FlagOverride `yaml:"flags" json:"flags,omitempty"`
	// Stack sizes the project's service_stack for this environment.
	Stack StackParams `yaml:"stack" json:"stack,omitempty" schema:"scalar"`
	// Hosts, when listed, are the hosts whose agents run the services
	// (see hosts.go); none: the local agent.
	Hosts []*Host `yaml:"hosts" json:"hosts,omitempty"`
	// Infrastructure is what a release does about the environment's
	// service stack before it deploys (docs/infrastructure.md).
	Infrastructure *Infrastructure `yaml:"infrastructure" json:"infrastructure,omitempty"`
}

// Infrastructure is an environment's release-path policy for its stack.
type Infrastructure struct {
	// OnPending: block (default) stops a release while the stack has
	// unapplied changes or unacknowledged drift; warn lets it through with
	// the same evidence recorded as a warning.
	OnPending PendingPolicy `yaml:"on_pending" json:"on_pending,omitempty"`
}

// OnPendingInfra is the environment's policy for a stack with pending
// changes or drift: block unless infrastructure.on_pending says warn.
func (e *Environment) OnPendingInfra() PendingPolicy {
	if e.Infrastructure != nil && e.Infrastructure.OnPending == PendingWarn {
		return PendingWarn
	}
	return PendingBlock
}

// Protection guards an environment with approvals and with the git refs
// its artifacts must have been built from.
type Protection struct {
	RequireApproval bool `yaml:"require_approval" json:"require_approval"`
	// Approvers, when listed, are the only token names whose approval counts.
	Approvers []string `yaml:"approvers" json:"approvers,omitempty"`
	// Approvals is how many distinct approvers a release needs; default 1.
	Approvals int `yaml:"approvals" json:"approvals,omitempty"`
	// AllowSelfApproval lets the one who asked for a release approve it;
	// default false.
	AllowSelfApproval bool `yaml:"allow_self_approval" json:"allow_self_approval,omitempty"`
	// WaitTimer holds an approved release this long after it began waiting
	// for approval, so that a second look is possible; default 0.
	WaitTimer Duration `yaml:"wait_timer" json:"wait_timer,omitempty"`
	// Branches and Tags, when either is set, are patterns of the branches
	// and tags (see refs.go) one of which an artifact's signed provenance
	// must record for a release to enter; with or without approvals.
	Branches []string `yaml:"branches" json:"branches,omitempty"`
	Tags     []string `yaml:"tags" json:"tags,omitempty"`
}

// RequiredApprovals is how many distinct approvers the environment needs
// (0 when it needs no approval).
func (p *Protection) RequiredApprovals() int {
	if p == nil || !p.RequireApproval {
		return 0
	}
	return max(p.Approvals, 1)
}

// Protected reports whether deploying here needs an approval.
func (e *Environment) Protected() bool { return e.Protection != nil && e.Protection.RequireApproval }

// AutoRollbackEnabled reports whether triggers roll back on their own.
func (e *Environment) AutoRollbackEnabled() bool { return e.AutoRollback == nil || *e.AutoRollback }

// nameRE is a DNS label: service and environment names end up in hostnames,
// Kubernetes objects and metric labels.
var nameRE = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

func checkName(what, s string) error {
	if !nameRE.MatchString(s) {
		return fmt.Errorf("%s name %q must be lower-case letters, digits and '-', start with a letter and end with a letter or digit (at most 63)", what, s)
	}
	return nil
}

// checkListen accepts host:port with a numeric port in 1..65535.
func checkListen(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("listen address %q is not host:port, e.g. 127.0.0.1:8080", s)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("listen address %q needs a port between 1 and 65535", s)
	}
	return nil
}

func (d *decoder) checkEnvironments(p *Project) {
	if len(p.Environments) == 0 && d.pos["environments"] != (Pos{}) {
		d.errAt("environments", "at least one environment is required, e.g. - name: production")
	}
	first := map[string]int{}
	for i, e := range p.Environments {
		path := index("environments", i)
		if e == nil {
			d.errAt(path, "empty environment: give at least a name")
			continue
		}
		if e.Name == "" {
			continue // reported as missing
		}
		if err := checkName("environment", e.Name); err != nil {
			d.errAt(path+".name", "%v", err)
		}
		if j, dup := first[e.Name]; dup {
			d.errAt(path+".name", "duplicate environment %q (first at environments[%d]); environment names must be unique", e.Name, j)
		} else {
			first[e.Name] = i
		}
		if e.Listen != "" {
			if err := checkListen(e.Listen); err != nil {
				d.errAt(path+".listen", "%v", err)
			}
		}
		d.checkProtection(path+".protection", e.Protection)
		d.checkHosts(path, e)
		d.checkKubernetes(path, e)
		if d.set(path+".on_rejected_downstream") && i == len(p.Environments)-1 {
			d.errAt(path+".on_rejected_downstream", "%s is the last environment: no later environment can roll back its version; remove on_rejected_downstream here and set it on an earlier environment", e.Name)
		}
	}
}

// ValidName reports whether s can name a service or an environment (a DNS
// label), with a message saying what is allowed.
func ValidName(s string) error { return checkName("service or environment", s) }

// checkProtection refuses approval rules that no approval would apply: an
// environment that requires none ignores them.
func (d *decoder) checkProtection(path string, pr *Protection) {
	if pr == nil {
		return
	}
	for _, f := range []string{"approvers", "approvals", "allow_self_approval", "wait_timer"} {
		if d.set(path+"."+f) && !pr.RequireApproval {
			if f == "approvers" {
				d.errAt(path+"."+f, "approvers are listed but require_approval is not true")
			} else {
				d.errAt(path+"."+f, "%s applies only to approvals, and require_approval is not true: add require_approval: true or remove %s", f, f)
			}
		}
	}
	if d.set(path+".approvals") && pr.Approvals < 1 {
		d.errAt(path+".approvals", "approvals %d must be at least 1: it is how many distinct people must approve", pr.Approvals)
	}
	if n := len(pr.Approvers); n > 0 && pr.Approvals > n {
		d.errAt(path+".approvals", "approvals %d is more than the %d approvers listed: no release could ever be approved", pr.Approvals, n)
	}
	if pr.WaitTimer < 0 || pr.WaitTimer > Duration(30*24*time.Hour) {
		d.errAt(path+".wait_timer", "wait_timer %s must be between 0 and 30 days", pr.WaitTimer)
	}
	d.checkRefRules(path, pr)
}
