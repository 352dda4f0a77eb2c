package rollouttest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/belay-dev/belay/internal/target"
)

// Target records desired states and reports them back as observed, with
// every version ready. Fail makes Apply fail for chosen versions.
type Target struct {
	mu      sync.Mutex
	applied []target.Desired
	current map[string]target.Desired // env/service → last applied
	fail    map[string]error          // version → error Apply returns when it is wanted
}

var _ target.Target = (*Target)(nil)

// NewTarget returns an empty target.
func NewTarget() *Target {
	return &Target{current: map[string]target.Desired{}, fail: map[string]error{}}
}

// Fail makes Apply return err whenever version is in the desired state (nil clears).
func (t *Target) Fail(version string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err == nil {
		delete(t.fail, version)
		return
	}
	t.fail[version] = err
}

// Apply records want, checking weights sum to 100 (or no versions at all).
func (t *Target) Apply(_ context.Context, want target.Desired) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	sum := 0.0
	for _, v := range want.Versions {
		if err := t.fail[v.Version]; err != nil {
			return fmt.Errorf("apply %s: %w", v.Version, err)
		}
		sum += v.Weight
	}
	if len(want.Versions) > 0 && sum != 100 {
		return fmt.Errorf("%w: weights sum to %g", target.ErrInvalid, sum)
	}
	b, _ := json.Marshal(want)
	var cp target.Desired
	_ = json.Unmarshal(b, &cp)
	t.applied = append(t.applied, cp)
	t.current[want.Environment+"/"+want.Service] = cp
	return nil
}

// Observe reports the last applied state.
func (t *Target) Observe(_ context.Context, env, service string) (target.Observed, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d, ok := t.current[env+"/"+service]
	if !ok {
		return target.Observed{}, fmt.Errorf("%w: %s in %s", target.ErrNotFound, service, env)
	}
	o := target.Observed{Environment: env, Service: service, Listen: d.Listen}
	for _, v := range d.Versions {
		o.Versions = append(o.Versions, target.ObservedVersion{Version: v.Version, Weight: v.Weight, Instances: v.Instances, Ready: v.Instances})
	}
	return o, nil
}

// Applied returns every desired state applied, in order.
func (t *Target) Applied() []target.Desired {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]target.Desired(nil), t.applied...)
}

// Weights returns the weights in force for env/service, by version.
func (t *Target) Weights(env, service string) map[string]float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]float64{}
	for _, v := range t.current[env+"/"+service].Versions {
		out[v.Version] = v.Weight
	}
	return out
}
