package spec

// ReleasePlan is the seed's release_plan block: one artifact's way to
// production and its exit path, fixed before it ships.
type ReleasePlan struct {
	Version         Version         `yaml:"version" json:"version" belay:"required"`
	PreviousStable  Version         `yaml:"previous_stable" json:"previous_stable" belay:"required"`
	MigrationType   MigrationType   `yaml:"migration_type" json:"migration_type" belay:"required"`
	Rollout         Strategy        `yaml:"rollout" json:"rollout" belay:"required"`
	RollbackTrigger Triggers        `yaml:"rollback_trigger" json:"rollback_trigger" belay:"required"`
	RollbackAction  RollbackActions `yaml:"rollback_action" json:"rollback_action" belay:"required"`
	Owner           string          `yaml:"owner" json:"owner,omitempty"`

	File string `yaml:"-" json:"file,omitempty"`
}

// Service is the service the plan releases.
func (r *ReleasePlan) Service() string { return r.Version.Service }

// releasePlanDoc is a file whose only top-level key is release_plan.
type releasePlanDoc struct {
	ReleasePlan *ReleasePlan `yaml:"release_plan" belay:"required"`
}

// checkReleasePlan checks a plan; ms are the named metrics its triggers
// may watch (a plan file on its own has none).
func (d *decoder) checkReleasePlan(path string, r *ReleasePlan, ms MetricDefs) {
	if r == nil {
		return
	}
	r.RollbackTrigger, _, _ = d.resolveTriggers(r.RollbackTrigger, ms)
	v, prev := r.Version, r.PreviousStable
	if !v.IsZero() && !prev.IsZero() {
		switch {
		case v == prev:
			d.errAt(path+".previous_stable", "previous_stable is the version being released (%s): it must name the artifact to roll back to", v)
		case v.Service != prev.Service:
			d.errAt(path+".previous_stable", "previous_stable %s is of service %q, but the release is of %q", prev, prev.Service, v.Service)
		}
	}
	if _, set := d.pos[path+".rollback_trigger"]; set && len(r.RollbackTrigger) == 0 && !d.hasErrUnder(path+".rollback_trigger") {
		d.errAt(path+".rollback_trigger", "a release plan needs at least one rollback trigger, e.g. - error_rate > 1%% for 5m")
	}
}

func (d *decoder) hasErrUnder(path string) bool {
	for _, e := range d.errs {
		if e.Path == path || len(e.Path) > len(path) && e.Path[:len(path)] == path && (e.Path[len(path)] == '.' || e.Path[len(path)] == '[') {
			return true
		}
	}
	return false
}
