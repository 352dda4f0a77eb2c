package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/belay-dev/belay/internal/atomicfile"
	"github.com/belay-dev/belay/internal/infra/provider"
)

// KindPolicy is a database's backup policy, kept as a small state file
// DIR/NAME.policy.json (NAME: the database) that the server's backup loop
// and `belay restore` read; fields service, environment, database,
// schedule (a duration) and retention ("7", "30d" or "7,30d").
const KindPolicy = "backup_policy"

// PolicyProvider manages the policy files of one backups directory.
type PolicyProvider struct{ Dir string }

var _ provider.Provider = (*PolicyProvider)(nil)

// NewPolicyProvider keeps policies in dir, made when missing.
func NewPolicyProvider(dir string) (*PolicyProvider, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: no directory: set the backups component's dir parameter", ErrInvalid)
	}
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("%w: dir %q is not an absolute path: the server resolves it, not your shell", ErrInvalid, dir)
	}
	return &PolicyProvider{Dir: dir}, nil
}

// Kinds is the policy.
func (p *PolicyProvider) Kinds() []string { return []string{KindPolicy} }

// Close does nothing.
func (p *PolicyProvider) Close() error { return nil }

// PolicyPath is where r's policy is kept.
func (p *PolicyProvider) PolicyPath(name string) string {
	return filepath.Join(p.Dir, name+".policy.json")
}

// Observe reads the policy file; it never changes anything.
func (p *PolicyProvider) Observe(_ context.Context, r provider.Resource) (provider.Observation, error) {
	if r.Kind != KindPolicy {
		return provider.Observation{}, fmt.Errorf("backup: unknown kind %q", r.Kind)
	}
	b, err := os.ReadFile(p.PolicyPath(r.Name))
	if errors.Is(err, fs.ErrNotExist) {
		return provider.Observation{}, nil
	}
	if err != nil {
		return provider.Observation{}, fmt.Errorf("backup: observe %s: %w", r.ID(), err)
	}
	var f provider.Fields
	if err := json.Unmarshal(b, &f); err != nil {
		f = provider.Fields{"schedule": "(unreadable: " + err.Error() + ")"}
	}
	return provider.Observation{Exists: true, Fields: f}, nil
}

// Create writes the policy.
func (p *PolicyProvider) Create(ctx context.Context, r provider.Resource) error {
	return p.Update(ctx, r)
}

// Update writes the policy after checking it.
func (p *PolicyProvider) Update(_ context.Context, r provider.Resource) error {
	if _, err := ParseSchedule(r.Spec["schedule"]); err != nil {
		return err
	}
	if _, err := ParseRetention(r.Spec["retention"]); err != nil {
		return err
	}
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	b, _ := json.MarshalIndent(r.Spec, "", "  ")
	return atomicfile.Write(p.PolicyPath(r.Name), append(b, '\n'), 0o600)
}

// Delete removes the policy (never the dumps); a missing one is not an error.
func (p *PolicyProvider) Delete(_ context.Context, r provider.Resource) error {
	if err := os.Remove(p.PolicyPath(r.Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backup: delete %s: %w", r.ID(), err)
	}
	return nil
}

// Policy reads the policy of database from dir.
func Policy(dir, database string) (provider.Fields, error) {
	o, err := (&PolicyProvider{Dir: dir}).Observe(context.Background(), provider.Resource{Kind: KindPolicy, Name: database})
	if err != nil {
		return nil, err
	}
	if !o.Exists {
		return nil, fmt.Errorf("%w: %s has no backup policy in %s: plan and apply the backups component first", ErrNotFound, database, dir)
	}
	return o.Fields, nil
}
