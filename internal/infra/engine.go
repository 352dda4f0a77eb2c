package infra

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/backup"
	"github.com/belay-dev/belay/internal/infra/nats"
	"github.com/belay-dev/belay/internal/infra/postgres"
	"github.com/belay-dev/belay/internal/infra/promfiles"
	"github.com/belay-dev/belay/internal/infra/provider"
	"github.com/belay-dev/belay/internal/infra/redis"
	"github.com/belay-dev/belay/internal/infra/s3"
	"github.com/belay-dev/belay/internal/infra/tofu"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
)

// Actions of a planned change.
const (
	ActCreate  = "create"
	ActUpdate  = "update"
	ActReplace = "replace" // not produced yet: every field is updated in place
	ActDelete  = "delete"
	// ActAdopt: the resource exists but belay has no record of creating it;
	// applying records it as belay's (after a crash between Create and the
	// record, the create-pending marker makes this a no-op instead).
	ActAdopt = "adopt"
	// ActImport: an observe-only resource first recorded: its current
	// fields become the baseline drift is measured against.
	ActImport = "import"
	ActNoop   = "no-op"
)

// Errors callers map to answers.
var (
	ErrStale       = errors.New("stale plan")
	ErrNotApproved = errors.New("plan not approved")
	ErrLocked      = errors.New("environment locked")
	ErrProtected   = errors.New("protected resource")
	ErrInvalid     = errors.New("stack")
)

// Change is one resource's planned change.
type Change struct {
	Kind        string               `json:"kind"`
	Name        string               `json:"name"`
	Action      string               `json:"action"`
	Diffs       []provider.FieldDiff `json:"diffs,omitempty"`
	Destructive bool                 `json:"destructive,omitempty"`
	Protected   bool                 `json:"protected,omitempty"`
	Policy      string               `json:"policy"`
	Spec        provider.Fields      `json:"spec,omitempty"` // what apply makes it
}

// Plan is what apply would do in an environment.
type Plan struct {
	ID          int64    `json:"id,omitempty"`
	Environment string   `json:"environment"`
	Changes     []Change `json:"changes"`
	Hash        string   `json:"hash,omitempty"`
	State       string   `json:"state,omitempty"`
	// Counts by action.
	Summary map[string]int `json:"summary"`
	// Tofu is the OpenTofu / Terraform plan given as evidence beside
	// belay's own (belay plan --tofu), with its hash; an approval binds to
	// both hashes and apply refuses when the tofu plan changed since.
	Tofu *tofu.Plan `json:"tofu,omitempty"`
}

// tofuHash is the hash of a stored plan's tofu plan ("" when none).
func tofuHash(sp store.InfraPlan) string {
	var pl struct {
		Tofu *tofu.Plan `json:"tofu"`
	}
	if json.Unmarshal(sp.Body, &pl) != nil || pl.Tofu == nil {
		return ""
	}
	return pl.Tofu.Hash
}

// Drift is one field of one resource that differs from what belay last
// applied.
type Drift struct {
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Field    string `json:"field"`
	Expected string `json:"expected"`
	Found    string `json:"found"`
	// New: not reported before (unchanged drift is reported once).
	New bool `json:"new"`
	// Acknowledged: an operator acknowledged this very drift (belay drift
	// ack); the release path lets it through.
	Acknowledged bool `json:"acknowledged,omitempty"`
}

// Engine plans, applies and checks drift.
type Engine struct {
	Store store.Store
	// Secrets reads environment secrets (secret.Store.Values).
	Secrets func(env string, names []string) (map[string]string, error)
	// Providers opens the providers of a stack's servers by component, from
	// their administrator URLs; nil: postgres, redis, nats and s3.
	Providers func(component, kind, adminURL string) (provider.Provider, error)
	// Local opens the providers of components kept as files (monitoring,
	// backups) from their parameters; nil: promfiles and backup policies.
	Local func(component, kind string, params map[string]string) (provider.Provider, error)
	Now   func() time.Time
	// LockTTL is how long an apply's lock lasts without renewal.
	LockTTL time.Duration
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// LockName is the lease an apply in env holds.
func LockName(env string) string { return "infra:" + env }

func defaultProvider(component, kind, url string) (provider.Provider, error) {
	switch kind {
	case "managed_postgres", "postgres":
		return postgres.New(url)
	case "redis":
		return redis.New(url)
	case "nats", "managed_queue":
		return nats.New(url)
	case "s3":
		return s3.New(url)
	}
	if component == "object_storage" && kind == "enabled" {
		return s3.New(url)
	}
	return nil, fmt.Errorf("no provider for %q", kind)
}

func defaultLocal(component, _ string, params map[string]string) (provider.Provider, error) {
	switch component {
	case "monitoring":
		return promfiles.New(params["dir"], params["reload_url"])
	case "backups":
		return backup.NewPolicyProvider(params["dir"])
	}
	return nil, fmt.Errorf("no provider for component %q", component)
}

// session is one run's stack, stored rows and open providers.
type session struct {
	stack *Stack
	rows  map[string]store.InfraResource // by kind/name
	provs map[string]provider.Provider   // by component
}

func (s *session) close() {
	for _, p := range s.provs {
		_ = p.Close()
	}
}

func (s *session) provider(kind string) (provider.Provider, error) {
	c := componentOfKind(kind)
	if p, ok := s.provs[c]; ok {
		return p, nil
	}
	if localComponents[c] {
		return nil, fmt.Errorf("%w: %s resources belay applied live in the %s directory, which environment %s's stack parameters no longer name: "+
			"keep its dir (with enabled: \"false\" to delete them) until a plan deleting them is applied", ErrInvalid, kind, c, s.stack.Environment)
	}
	return nil, fmt.Errorf("%w: %s resources belay applied live on the %s server, which environment %s's stack parameters no longer name: "+
		"keep its admin_url_secret (with enabled: \"false\" to delete them) until a plan deleting them is applied", ErrInvalid, kind, c, s.stack.Environment)
}

func (e *Engine) open(ctx context.Context, p *spec.Project, env string) (*session, error) {
	st, err := StackOf(p, env, e.Secrets)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	rows, err := e.Store.InfraResources(ctx, env)
	if err != nil {
		return nil, err
	}
	s := &session{stack: st, rows: map[string]store.InfraResource{}, provs: map[string]provider.Provider{}}
	for _, r := range rows {
		s.rows[r.Kind+"/"+r.Name] = r
	}
	open := e.Providers
	if open == nil {
		open = defaultProvider
	}
	comps := p.ServiceStack.Components()
	for _, c := range sortedKeys(st.Servers) {
		name := st.Servers[c]
		vals, err := e.Secrets(env, []string{name})
		if err != nil {
			s.close()
			return nil, fmt.Errorf("%w: the %s server's administrator URL: %v", ErrInvalid, c, err)
		}
		pr, err := open(c, comps[c], vals[name])
		if err != nil {
			s.close()
			return nil, fmt.Errorf("%w: %s server: %v", ErrInvalid, c, err)
		}
		s.provs[c] = pr
	}
	local := e.Local
	if local == nil {
		local = defaultLocal
	}
	for _, c := range sortedKeys(st.Local) {
		pr, err := local(c, comps[c], st.Local[c])
		if err != nil {
			s.close()
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, c, err)
		}
		s.provs[c] = pr
	}
	return s, nil
}

// plan observes every desired and recorded resource and lists the changes.
func (e *Engine) plan(ctx context.Context, s *session) (Plan, error) {
	pl := Plan{Environment: s.stack.Environment, Changes: []Change{}, Summary: map[string]int{}}
	desired := map[string]bool{}
	var deletes []Change
	for _, d := range s.stack.Resources {
		desired[d.ID()] = true
		pr, err := s.provider(d.Kind)
		if err != nil {
			return Plan{}, err
		}
		obs, err := pr.Observe(ctx, d.Resource)
		if err != nil {
			return Plan{}, err
		}
		row, recorded := s.rows[d.ID()]
		c := Change{Kind: d.Kind, Name: d.Name, Policy: d.Policy, Protected: d.Protect, Spec: d.Spec}
		switch {
		case d.Policy == store.PolicyObserve:
			c.Spec = nil
			if !obs.Exists {
				return Plan{}, fmt.Errorf("%w: %s is to be imported (management: observe) but does not exist", ErrInvalid, d.ID())
			}
			c.Action = ActNoop
			if !recorded || len(row.Applied) == 0 || row.Policy != store.PolicyObserve {
				// first recorded, or managed until now: its fields now become the baseline
				c.Action, c.Spec = ActImport, obs.Fields
			}
		case !obs.Exists:
			c.Action, c.Diffs = ActCreate, provider.MaskDiffs(provider.Diff(d.Spec, nil))
		default:
			c.Diffs = provider.MaskDiffs(provider.Diff(d.Spec, obs.Fields))
			switch {
			case len(c.Diffs) > 0:
				c.Action = ActUpdate
			case !recorded && !row.CreatePending, recorded && row.Policy == store.PolicyObserve:
				// not belay's yet, or observed only until now: applying takes it under management
				c.Action = ActAdopt
			default:
				c.Action = ActNoop
			}
		}
		pl.Changes = append(pl.Changes, c)
	}
	for _, id := range sortedKeys(s.rows) {
		row := s.rows[id]
		if desired[id] || row.Policy == store.PolicyObserve {
			continue
		}
		pr, err := s.provider(row.Kind)
		if err != nil {
			return Plan{}, err
		}
		obs, err := pr.Observe(ctx, provider.Resource{Kind: row.Kind, Name: row.Name})
		if err != nil {
			return Plan{}, err
		}
		c := Change{Kind: row.Kind, Name: row.Name, Action: ActDelete, Destructive: true, Protected: row.Protect, Policy: row.Policy}
		if !obs.Exists {
			c.Destructive = false // already gone: only the record goes
		}
		deletes = append(deletes, c)
	}
	slices.SortStableFunc(deletes, func(a, b Change) int { return cmp.Compare(deleteRank(a.Kind), deleteRank(b.Kind)) })
	pl.Changes = append(deletes, pl.Changes...)
	for _, c := range pl.Changes {
		pl.Summary[c.Action]++
	}
	b, err := json.Marshal(struct {
		Env     string   `json:"environment"`
		Changes []Change `json:"changes"`
	}{pl.Environment, pl.Changes})
	if err != nil {
		return Plan{}, err
	}
	sum := sha256.Sum256(b)
	pl.Hash = hex.EncodeToString(sum[:])
	return pl, nil
}

// Plan observes env's stack, stores the plan (audited as actor's) with
// the tofu plan given as evidence (nil: none) and returns it.
func (e *Engine) Plan(ctx context.Context, p *spec.Project, env, actor string, tf *tofu.Plan) (Plan, error) {
	s, err := e.open(ctx, p, env)
	if err != nil {
		return Plan{}, err
	}
	defer s.close()
	pl, err := e.plan(ctx, s)
	if err != nil {
		return Plan{}, err
	}
	pl.Tofu = tf
	body, err := json.Marshal(pl)
	if err != nil {
		return Plan{}, err
	}
	d := map[string]any{"environment": env, "hash": pl.Hash, "summary": pl.Summary}
	if tf != nil {
		d["tofu_hash"], d["tofu_source"] = tf.Hash, tf.Source
	}
	detail, _ := json.Marshal(d)
	sp, err := e.Store.CreateInfraPlan(ctx, store.InfraPlan{Environment: env, Hash: pl.Hash, Body: body, CreatedBy: actor, CreatedAt: e.now()},
		store.AuditEntry{At: e.now(), Actor: actor, Action: "infra.plan", Detail: detail})
	if err != nil {
		return Plan{}, err
	}
	pl.ID, pl.State = sp.ID, sp.State
	return pl.masked(), nil
}

// masked is pl as shown: its specs with sensitive fields Masked (the
// stored plan keeps them: apply needs them).
func (pl Plan) masked() Plan {
	pl.Changes = maskChanges(pl.Changes)
	return pl
}

func maskChanges(cs []Change) []Change {
	out := slices.Clone(cs)
	for i := range out {
		out[i].Spec = out[i].Spec.Mask()
	}
	return out
}

// GetPlan returns a stored plan as shown (sensitive fields Masked).
func (e *Engine) GetPlan(ctx context.Context, id int64) (Plan, store.InfraPlan, error) {
	pl, sp, err := e.getPlan(ctx, id)
	return pl.masked(), sp, err
}

// getPlan returns a stored plan as stored.
func (e *Engine) getPlan(ctx context.Context, id int64) (Plan, store.InfraPlan, error) {
	sp, err := e.Store.GetInfraPlan(ctx, id)
	if err != nil {
		return Plan{}, sp, err
	}
	var pl Plan
	if err := json.Unmarshal(sp.Body, &pl); err != nil {
		return Plan{}, sp, fmt.Errorf("plan %d: stored body: %w", id, err)
	}
	pl.ID, pl.State = sp.ID, sp.State
	return pl, sp, nil
}

// ErrPolicy is an approval the environment's protection does not allow.
var ErrPolicy = errors.New("protection")

// Approve records actor's approval of plan id, audited, under the plan
// environment's protection (nil: none) as a release's approval is: only a
// listed approver, not the one who made the plan unless
// allow_self_approval, and approved once `approvals` distinct approvers
// approved it.
func (e *Engine) Approve(ctx context.Context, id int64, actor, reason string, prot *spec.Protection) (store.InfraPlan, error) {
	sp, err := e.Store.GetInfraPlan(ctx, id)
	if err != nil {
		return sp, err
	}
	need := 1
	if prot != nil {
		if len(prot.Approvers) > 0 && !slices.Contains(prot.Approvers, actor) {
			return sp, fmt.Errorf("%w: %s is not one of %s's approvers (%s)", ErrPolicy, actor, sp.Environment, strings.Join(prot.Approvers, ", "))
		}
		if !prot.AllowSelfApproval && sp.CreatedBy == actor {
			return sp, fmt.Errorf("%w: %s made plan %d and may not approve it too; another approver must (protection.allow_self_approval: true would allow it)",
				ErrPolicy, actor, id)
		}
		need = max(prot.RequiredApprovals(), 1)
	}
	detail, _ := json.Marshal(map[string]any{"environment": sp.Environment, "hash": sp.Hash, "tofu_hash": tofuHash(sp), "need": need})
	return e.Store.ApproveInfraPlan(ctx, id, actor, need, e.now(), store.AuditEntry{At: e.now(), Actor: actor,
		Action: "infra.plan.approve", Subject: fmt.Sprintf("plan/%d", id), Reason: reason, Detail: detail})
}

// ApplyOptions are apply's choices.
type ApplyOptions struct {
	Actor  string
	Reason string
	// DeleteProtected allows deleting the protected resources the plan
	// deletes; each deletion is audited with Reason, which is then required.
	DeleteProtected bool
	// Holder names this apply in the lock (e.g. host:pid).
	Holder string
	// AfterCreate, when set, runs after the provider's Create and before
	// the created resource is recorded (crash tests).
	AfterCreate func(Change)
	// Tofu is the plan's tofu plan read again now (nil: not given); a plan
	// made with one is applied only when it still hashes the same, and a
	// plan made without one is not applied with one.
	Tofu *tofu.Plan
}

// Applied is apply's answer.
type Applied struct {
	Plan    Plan     `json:"plan"`
	Applied []Change `json:"applied"`
}

// Apply applies approved plan id to env under env's lock: it observes again
// and refuses a plan that no longer matches, refuses to delete protected
// resources unless told to (audited), records each resource as it goes
// (create-pending before each Create) and marks the plan applied.
func (e *Engine) Apply(ctx context.Context, p *spec.Project, env string, id int64, o ApplyOptions) (Applied, error) {
	out, err := e.apply(ctx, p, env, id, o)
	out.Plan, out.Applied = out.Plan.masked(), maskChanges(out.Applied)
	return out, err
}

func (e *Engine) apply(ctx context.Context, p *spec.Project, env string, id int64, o ApplyOptions) (Applied, error) {
	pl, sp, err := e.getPlan(ctx, id)
	if err != nil {
		return Applied{}, err
	}
	if sp.Environment != env {
		return Applied{}, fmt.Errorf("%w: plan %d is for %s, not %s", ErrInvalid, id, sp.Environment, env)
	}
	switch sp.State {
	case store.PlanPending:
		return Applied{}, fmt.Errorf("%w: plan %d: approve it first with `belay plan approve %d` (approver role in %s)", ErrNotApproved, id, id, env)
	case store.PlanApplied:
		return Applied{}, fmt.Errorf("%w: plan %d was already applied at %s; make a new plan", ErrStale, id, sp.AppliedAt.Format(time.RFC3339))
	}
	for _, c := range pl.Changes {
		if c.Action == ActDelete && c.Destructive && c.Protected && !o.DeleteProtected {
			return Applied{}, fmt.Errorf("%w: plan %d deletes %s/%s, which is protected; nothing was applied. "+
				"To delete it, apply again with --delete-protected and a --reason (audited)", ErrProtected, id, c.Kind, c.Name)
		}
	}
	if pl.Tofu == nil && o.Tofu != nil {
		return Applied{}, fmt.Errorf("%w: plan %d was made without a tofu plan, so its approval does not cover %s; nothing was applied: "+
			"make a new plan with --tofu and approve it, or apply without --tofu", ErrStale, id, o.Tofu.Source)
	}
	if pl.Tofu != nil {
		switch {
		case o.Tofu == nil:
			return Applied{}, fmt.Errorf("%w: plan %d was approved with the tofu plan %s (hash %s): give it again with --tofu so that belay can check it did not change",
				ErrStale, id, pl.Tofu.Source, pl.Tofu.Hash)
		case o.Tofu.Hash != pl.Tofu.Hash:
			return Applied{}, fmt.Errorf("%w: the tofu plan %s changed since plan %d was approved (hash %s then, %s now); nothing was applied: "+
				"make a new plan with --tofu and approve it", ErrStale, o.Tofu.Source, id, pl.Tofu.Hash, o.Tofu.Hash)
		}
	}
	if o.DeleteProtected && strings.TrimSpace(o.Reason) == "" {
		return Applied{}, fmt.Errorf("%w: --delete-protected needs a --reason, kept in the audit log", ErrInvalid)
	}
	ttl := cmp.Or(e.LockTTL, 10*time.Minute)
	// A nonce per call: two applies of the same plan by the same actor are
	// two holders, so the second waits instead of renewing the first's lock.
	var nonce [4]byte
	_, _ = rand.Read(nonce[:])
	holder := cmp.Or(o.Holder, "apply") + " plan " + fmt.Sprint(id) + " by " + o.Actor + " #" + hex.EncodeToString(nonce[:])
	l, held, err := e.Store.AcquireLease(ctx, LockName(env), holder, ttl, e.now())
	if err != nil {
		return Applied{}, err
	}
	if !held {
		return Applied{}, fmt.Errorf("%w: %s is locked by %q until %s; if that apply is dead, `belay unlock --env %s` (audited)",
			ErrLocked, env, l.Holder, l.ExpiresAt.Format(time.RFC3339), env)
	}
	defer func() { _ = e.Store.ReleaseLease(context.WithoutCancel(ctx), LockName(env), holder) }()

	s, err := e.open(ctx, p, env)
	if err != nil {
		return Applied{}, err
	}
	defer s.close()
	now, err := e.plan(ctx, s)
	if err != nil {
		return Applied{}, err
	}
	if now.Hash != sp.Hash {
		return Applied{}, fmt.Errorf("%w: plan %d no longer matches %s (the servers or belay.yaml changed since it was made); nothing was applied: make a new plan and approve it", ErrStale, id, env)
	}
	var out Applied
	out.Plan = pl
	desired := map[string]Desired{}
	for _, d := range s.stack.Resources {
		desired[d.ID()] = d
	}
	for _, c := range pl.Changes {
		l, held, err := e.Store.AcquireLease(ctx, LockName(env), holder, ttl, e.now()) // renew
		if err != nil {
			return out, err
		}
		if !held { // it expired and another apply took it: stop before changing anything more
			return out, fmt.Errorf("%w: the lock of %s expired and %s holds it now (applied so far: %d of %d changes; the next plan shows what is left)",
				ErrLocked, env, l.Holder, len(out.Applied), len(pl.Changes))
		}
		if err := e.applyOne(ctx, s, env, c, desired[c.Kind+"/"+c.Name], o); err != nil {
			err = fmt.Errorf("%s %s/%s: %w (applied so far: %d of %d changes; the next plan shows what is left)", c.Action, c.Kind, c.Name, err, len(out.Applied), len(pl.Changes))
			// What changed before the failure is on the servers: the audit log says who did it.
			detail, _ := json.Marshal(map[string]any{"environment": env, "hash": sp.Hash, "applied": maskChanges(out.Applied), "error": err.Error()})
			if _, aerr := e.Store.AppendAudit(context.WithoutCancel(ctx), store.AuditEntry{At: e.now(), Actor: o.Actor, Action: "infra.apply.failed",
				Subject: fmt.Sprintf("plan/%d", id), Reason: o.Reason, Detail: detail}); aerr != nil {
				err = errors.Join(err, fmt.Errorf("audit of the failed apply: %w", aerr))
			}
			return out, err
		}
		out.Applied = append(out.Applied, c)
	}
	detail, _ := json.Marshal(map[string]any{"environment": env, "hash": sp.Hash, "summary": pl.Summary, "delete_protected": o.DeleteProtected})
	if err := e.Store.MarkInfraPlanApplied(ctx, id, e.now(), store.AuditEntry{At: e.now(), Actor: o.Actor, Action: "infra.apply",
		Subject: fmt.Sprintf("plan/%d", id), Reason: o.Reason, Detail: detail}); err != nil {
		return out, err
	}
	return out, nil
}

func (e *Engine) applyOne(ctx context.Context, s *session, env string, c Change, d Desired, o ApplyOptions) error {
	pr, err := s.provider(c.Kind)
	if err != nil {
		return err
	}
	r := provider.Resource{Kind: c.Kind, Name: c.Name, Spec: c.Spec}
	if c.Policy == store.PolicyObserve && c.Action == ActNoop {
		return nil // imported before: its baseline stays what was imported
	}
	if c.Action == ActDelete {
		if c.Protected && c.Destructive {
			detail, _ := json.Marshal(map[string]string{"environment": env, "kind": c.Kind, "name": c.Name})
			if _, err := e.Store.AppendAudit(ctx, store.AuditEntry{At: e.now(), Actor: o.Actor, Action: "infra.delete_protected",
				Subject: "resource/" + env + "/" + c.Kind + "/" + c.Name, Reason: o.Reason, Detail: detail}); err != nil {
				return fmt.Errorf("not deleted: the override could not be audited: %w", err)
			}
		}
		if err := pr.Delete(ctx, r); err != nil {
			return err
		}
		return e.Store.DeleteInfraResource(ctx, env, c.Kind, c.Name)
	}
	row := store.InfraResource{Environment: env, Kind: c.Kind, Name: c.Name, Protect: d.Protect, Policy: d.Policy}
	if was, ok := s.rows[c.Kind+"/"+c.Name]; ok {
		// the drift recorded stays until the next record sees it resolved;
		// its acknowledgement goes: applying ends the drift it was for
		row.DriftHash, row.Drift = was.DriftHash, was.Drift
	}
	row.Desired, _ = json.Marshal(c.Spec)
	switch c.Action {
	case ActCreate:
		row.CreatePending = true
		if err := e.Store.PutInfraResource(ctx, row); err != nil {
			return err
		}
		if err := pr.Create(ctx, r); err != nil {
			return err
		}
		if o.AfterCreate != nil {
			o.AfterCreate(c)
		}
	case ActUpdate:
		if err := pr.Update(ctx, r); err != nil {
			return err
		}
	}
	obs, err := pr.Observe(ctx, r)
	if err != nil {
		return err
	}
	if !obs.Exists {
		return fmt.Errorf("the provider reports it missing right after %s", c.Action)
	}
	if c.Policy != store.PolicyObserve {
		if diffs := provider.Diff(c.Spec, obs.Fields); len(diffs) > 0 {
			return fmt.Errorf("after %s it still differs: %s", c.Action, formatDiffs(diffs))
		}
	}
	row.CreatePending = false
	row.Applied, _ = json.Marshal(c.Spec)
	row.AppliedHash = c.Spec.Hash()
	row.Observed, _ = json.Marshal(obs.Fields)
	row.ObservedAt = e.now()
	row.UpdatedAt = e.now()
	return e.Store.PutInfraResource(ctx, row)
}

func formatDiffs(ds []provider.FieldDiff) string {
	var b []string
	for _, d := range provider.MaskDiffs(ds) {
		b = append(b, fmt.Sprintf("%s: %q, want %q", d.Field, d.From, d.To))
	}
	return strings.Join(b, "; ")
}

// DriftReport is drift's answer for one environment.
type DriftReport struct {
	Environment string  `json:"environment"`
	Drifts      []Drift `json:"drifts"`
	// Checked is how many applied resources were observed.
	Checked int `json:"checked"`
	// Seen is, per resource checked (kind/name), the hash of its drift as
	// found ("" when none): what RecordDrift marks reported.
	Seen map[string]string `json:"seen,omitempty"`
}

// Drift observes every resource belay applied in env and reports each
// field that differs from what was applied; drift reported before and
// unchanged has New false (callers show only new drift by default). It
// writes nothing: RecordDrift marks what was reported.
func (e *Engine) Drift(ctx context.Context, p *spec.Project, env string) (DriftReport, error) {
	s, err := e.open(ctx, p, env)
	if err != nil {
		return DriftReport{}, err
	}
	defer s.close()
	return e.drift(ctx, s, env)
}

func (e *Engine) drift(ctx context.Context, s *session, env string) (DriftReport, error) {
	rep := DriftReport{Environment: env, Drifts: []Drift{}, Seen: map[string]string{}}
	for _, id := range sortedKeys(s.rows) {
		row := s.rows[id]
		if len(row.Applied) == 0 {
			continue
		}
		var applied provider.Fields
		if err := json.Unmarshal(row.Applied, &applied); err != nil {
			return rep, fmt.Errorf("%s: stored applied spec: %w", id, err)
		}
		pr, err := s.provider(row.Kind)
		if err != nil {
			return rep, err
		}
		obs, err := pr.Observe(ctx, provider.Resource{Kind: row.Kind, Name: row.Name, Spec: applied})
		if err != nil {
			return rep, err
		}
		rep.Checked++
		var ds []Drift
		if !obs.Exists {
			ds = []Drift{{Kind: row.Kind, Name: row.Name, Field: "(exists)", Expected: "true", Found: "false"}}
		} else {
			for _, d := range provider.Diff(applied, obs.Fields) {
				ds = append(ds, Drift{Kind: row.Kind, Name: row.Name, Field: d.Field, Expected: d.To, Found: d.From})
			}
		}
		hash := driftHash(ds) // of the values, so that another password is another drift
		for i := range ds {
			ds[i].New = hash != row.DriftHash
			ds[i].Acknowledged = hash == row.DriftAck
			if provider.Sensitive(ds[i].Field) {
				ds[i].Expected, ds[i].Found = provider.Masked, provider.Masked
			}
		}
		rep.Seen[id] = hash
		rep.Drifts = append(rep.Drifts, ds...)
	}
	return rep, nil
}

// driftHash identifies a resource's drift: its fields and the values
// found (the same drift found again hashes the same); "" when none.
func driftHash(ds []Drift) string {
	if len(ds) == 0 {
		return ""
	}
	var b []byte
	for _, d := range ds {
		b = fmt.Appendf(b, "%s/%s\x00%s\x00%s\x00%s\x00", d.Kind, d.Name, d.Field, d.Expected, d.Found)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// DriftChange is what RecordDrift changed for one resource.
type DriftChange struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Drifts are the resource's drift now; empty when it was resolved.
	Drifts []Drift `json:"drifts,omitempty"`
	// Resolved: drift reported before is gone.
	Resolved bool `json:"resolved,omitempty"`
}

// RecordDrift marks the drift of rep as reported (rep as Drift returned
// it, never a report from outside: its hashes are anyone's to compute): each resource in rep.Seen gets that hash and
// its drift stored, so that the same drift is not reported again. Only
// the resources rep names are touched. It returns the resources whose
// drift is new or resolved since the last record.
func (e *Engine) RecordDrift(ctx context.Context, rep DriftReport) ([]DriftChange, error) {
	unlock, err := e.hold(ctx, rep.Environment, "drift record")
	if err != nil {
		return nil, err
	}
	defer unlock()
	rows, err := e.Store.InfraResources(ctx, rep.Environment)
	if err != nil {
		return nil, err
	}
	by := map[string][]Drift{}
	for _, d := range rep.Drifts {
		by[d.Kind+"/"+d.Name] = append(by[d.Kind+"/"+d.Name], d)
	}
	var out []DriftChange
	for _, row := range rows {
		id := row.Kind + "/" + row.Name
		hash, ok := rep.Seen[id]
		if !ok {
			continue
		}
		if hash == row.DriftHash {
			if hash == "" && row.DriftAck != "" {
				// no drift recorded before the ack, and none now: it is over
				row.DriftAck, row.UpdatedAt = "", e.now()
				if err := e.Store.PutInfraResource(ctx, row); err != nil {
					return out, err
				}
			}
			continue
		}
		ds := by[id] // as Drift found it: its hash is of the values before masking
		c := DriftChange{Kind: row.Kind, Name: row.Name, Drifts: ds, Resolved: hash == ""}
		row.DriftHash, row.Drift = hash, nil
		if len(ds) > 0 {
			for i := range ds {
				ds[i].New, ds[i].Acknowledged = false, false
			}
			row.Drift, _ = json.Marshal(ds)
		}
		if hash == "" {
			row.DriftAck = "" // gone: a new drift later needs a new acknowledgement
		}
		row.UpdatedAt = e.now()
		if err := e.Store.PutInfraResource(ctx, row); err != nil {
			return out, err
		}
		out = append(out, c)
	}
	return out, nil
}

// AckDrift acknowledges the drift resource (kind/name) has now in env, as
// actor (audited; one of the environment's protection.approvers when it
// lists them): the release path's infrastructure check lets it through
// until it changes or goes.
func (e *Engine) AckDrift(ctx context.Context, p *spec.Project, env, resource, actor, reason string) ([]Drift, error) {
	if en := p.Environment(env); en != nil && en.Protection != nil {
		// As for a plan's approval, only a listed approver; one suffices.
		if as := en.Protection.Approvers; len(as) > 0 && !slices.Contains(as, actor) {
			return nil, fmt.Errorf("%w: %s is not one of %s's approvers (%s), who alone may acknowledge its drift", ErrPolicy, actor, env, strings.Join(as, ", "))
		}
	}
	// Under the lock from the observation on: the ack binds to the drift
	// observed, never to one an apply has ended meanwhile.
	unlock, err := e.hold(ctx, env, "drift ack by "+actor)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s, err := e.open(ctx, p, env)
	if err != nil {
		return nil, err
	}
	defer s.close()
	row, ok := s.rows[resource]
	if !ok {
		return nil, fmt.Errorf("%w: %s is not a resource belay keeps in %s (KIND/NAME as belay drift prints it)", store.ErrNotFound, resource, env)
	}
	rep, err := e.drift(ctx, s, env)
	if err != nil {
		return nil, err
	}
	var ds []Drift
	for _, d := range rep.Drifts {
		if d.Kind+"/"+d.Name == resource {
			ds = append(ds, d)
		}
	}
	if len(ds) == 0 {
		return nil, fmt.Errorf("%w: %s in %s has no drift now: nothing to acknowledge", ErrInvalid, resource, env)
	}
	detail, _ := json.Marshal(map[string]any{"environment": env, "drifts": ds})
	if _, err := e.Store.AppendAudit(ctx, store.AuditEntry{At: e.now(), Actor: actor, Action: "infra.drift.ack",
		Subject: "resource/" + env + "/" + resource, Reason: reason, Detail: detail}); err != nil {
		return nil, fmt.Errorf("not acknowledged: it could not be audited: %w", err)
	}
	row.DriftAck = rep.Seen[resource]
	row.UpdatedAt = e.now()
	return ds, e.Store.PutInfraResource(ctx, row)
}

// Check is the release path's look at an environment's stack: the
// changes a plan would make now and the drift no one acknowledged.
type Check struct {
	Environment string `json:"environment"`
	// Pending are the plan's changes other than no-ops, less the fields
	// an acknowledged drift explains.
	Pending []Change `json:"pending"`
	// Drift is the unacknowledged drift.
	Drift []Drift `json:"drift"`
	// Acknowledged is the drift let through because an operator
	// acknowledged it.
	Acknowledged []Drift `json:"acknowledged,omitempty"`
}

// Clean reports whether nothing is pending and no drift is unacknowledged.
func (c Check) Clean() bool { return len(c.Pending) == 0 && len(c.Drift) == 0 }

// Check observes env's stack without storing or changing anything: the
// plan's changes and the drift, for the release path's infrastructure
// check. A server it cannot reach is an error, never a clean check.
func (e *Engine) Check(ctx context.Context, p *spec.Project, env string) (Check, error) {
	s, err := e.open(ctx, p, env)
	if err != nil {
		return Check{}, err
	}
	defer s.close()
	pl, err := e.plan(ctx, s)
	if err != nil {
		return Check{}, err
	}
	rep, err := e.drift(ctx, s, env)
	if err != nil {
		return Check{}, err
	}
	out := Check{Environment: env, Pending: []Change{}, Drift: []Drift{}}
	acked := map[string]bool{} // kind/name field found
	for _, d := range rep.Drifts {
		if d.Acknowledged {
			out.Acknowledged = append(out.Acknowledged, d)
			acked[d.Kind+"/"+d.Name+"\x00"+d.Field+"\x00"+d.Found] = true
		} else {
			out.Drift = append(out.Drift, d)
		}
	}
	for _, c := range pl.Changes {
		if c.Action == ActNoop {
			continue
		}
		if c.Action == ActUpdate {
			var left []provider.FieldDiff
			for _, d := range c.Diffs {
				if !acked[c.Kind+"/"+c.Name+"\x00"+d.Field+"\x00"+d.From] {
					left = append(left, d)
				}
			}
			if len(left) == 0 {
				continue
			}
			c.Diffs = left
		}
		c.Spec = nil
		out.Pending = append(out.Pending, c)
	}
	return out, nil
}

// hold takes env's lock for a short write of resource rows (recording or
// acknowledging drift), so that it never writes back rows an apply is
// changing; an apply holding it is ErrLocked.
func (e *Engine) hold(ctx context.Context, env, what string) (func(), error) {
	var nonce [4]byte
	_, _ = rand.Read(nonce[:])
	holder := what + " #" + hex.EncodeToString(nonce[:])
	l, held, err := e.Store.AcquireLease(ctx, LockName(env), holder, time.Minute, e.now())
	if err != nil {
		return nil, err
	}
	if !held {
		return nil, fmt.Errorf("%w: %s is locked by %q (an apply); try again once it is done", ErrLocked, env, l.Holder)
	}
	return func() { _ = e.Store.ReleaseLease(context.WithoutCancel(ctx), LockName(env), holder) }, nil
}

// Unlock releases env's apply lock whoever holds it, audited; it reports
// the holder it released ("" when the lock was free).
func (e *Engine) Unlock(ctx context.Context, env, actor, reason string) (string, error) {
	probe := "unlock by " + actor
	l, held, err := e.Store.AcquireLease(ctx, LockName(env), probe, time.Second, e.now())
	if err != nil {
		return "", err
	}
	was := ""
	if !held {
		was = l.Holder
	}
	detail, _ := json.Marshal(map[string]string{"environment": env, "holder": was})
	if _, err := e.Store.AppendAudit(ctx, store.AuditEntry{At: e.now(), Actor: actor, Action: "infra.unlock",
		Subject: "lock/" + LockName(env), Reason: reason, Detail: detail}); err != nil {
		return "", fmt.Errorf("not unlocked: it could not be audited: %w", err)
	}
	if held {
		return "", e.Store.ReleaseLease(ctx, LockName(env), probe)
	}
	return was, e.Store.ReleaseLease(ctx, LockName(env), l.Holder)
}
