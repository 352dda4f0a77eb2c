// Package fleet is the Target for an environment spread over several hosts,
// each running `belay agent` with its API on TCP (TLS and a token): every
// host's agent is driven to the same desired state and weights (each host
// runs the service's instances and its own proxy), their counters are summed
// for the analysis, and a host that cannot be reached is unknown until it
// answers again, when it is brought to the desired state.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/belay-dev/belay/internal/target"
)

// Agent is one host's agent API (a *local.Client).
type Agent interface {
	target.Target
	target.Metrics
}

// Host is one host of the fleet.
type Host struct {
	Name    string
	Address string // host:port of its agent API, for messages
	Agent   Agent
}

// ProbeTimeout bounds how long a host has to answer a check.
const ProbeTimeout = 3 * time.Second

// Fleet drives every host's agent of one environment.
type Fleet struct {
	hosts []*host
	mu    sync.Mutex
	want  map[string]target.Desired // by service: the last desired state
	now   func() time.Time
}

type host struct {
	Host
	mu      sync.Mutex
	err     error // unknown when set
	since   time.Time
	pending map[string]bool // services whose desired state it may lack
	// applying serializes the applies of one service to this host: a
	// rollout's Apply and the re-apply of a host that answers again must
	// not cross, or the older desired state could land last.
	applying map[string]*sync.Mutex
}

// lock takes the host's apply lock of service and returns its release.
func (h *host) lock(service string) func() {
	h.mu.Lock()
	m, ok := h.applying[service]
	if !ok {
		m = &sync.Mutex{}
		h.applying[service] = m
	}
	h.mu.Unlock()
	m.Lock()
	return m.Unlock
}

var (
	_ target.Target  = (*Fleet)(nil)
	_ target.Metrics = (*Fleet)(nil)
	_ target.Hosts   = (*Fleet)(nil)
)

// New returns a fleet of hosts (at least one, names unique).
func New(hosts []Host) (*Fleet, error) {
	if len(hosts) == 0 {
		return nil, errors.New("fleet: no hosts")
	}
	f := &Fleet{want: map[string]target.Desired{}, now: time.Now}
	seen := map[string]bool{}
	for _, h := range hosts {
		if h.Name == "" || h.Agent == nil || seen[h.Name] {
			return nil, fmt.Errorf("fleet: host %q: a unique name and an agent are required", h.Name)
		}
		seen[h.Name] = true
		f.hosts = append(f.hosts, &host{Host: h, pending: map[string]bool{}, applying: map[string]*sync.Mutex{}})
	}
	return f, nil
}

// unreachable is whether err says the host could not be reached (rather
// than refusing the desired state).
func unreachable(err error) bool {
	for _, s := range []error{target.ErrNotFound, target.ErrArtifact, target.ErrUnhealthy, target.ErrInvalid} {
		if errors.Is(err, s) {
			return false
		}
	}
	return err != nil
}

func (h *host) fail(err error, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == nil {
		h.since = now
	}
	h.err = err
}

func (h *host) ok() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.err = nil
}

func (h *host) state() target.HostState {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := target.HostState{Name: h.Name, Address: h.Address}
	if h.err != nil {
		s.Unknown, s.Error, s.Since = true, h.err.Error(), h.since
	}
	return s
}

// applyTimeout bounds one host's Apply: a host cut off mid-call must not
// hold the rollout forever.
func applyTimeout(d target.Desired) time.Duration {
	t := 2 * time.Minute
	for _, v := range d.Versions {
		t = max(t, v.Health.HealthTimeout+d.DrainTimeout+time.Minute)
	}
	return t
}

// each runs fn on every host at once and returns their errors in host order.
func (f *Fleet) each(fn func(h *host) error) []error {
	errs := make([]error, len(f.hosts))
	var wg sync.WaitGroup
	for i, h := range f.hosts {
		wg.Go(func() { errs[i] = fn(h) })
	}
	wg.Wait()
	return errs
}

// Apply drives every host to want. A host that refuses it (unhealthy,
// missing artifact, invalid) makes Apply return that error, and the hosts
// that took it are put back to the previous state; a host that cannot be
// reached is unknown: Apply returns an error naming it (the rollout retries)
// and the host gets want as soon as it answers.
func (f *Fleet) Apply(ctx context.Context, want target.Desired) error {
	// want is the desired state from now on, so that a host answering
	// again while this runs is brought to it, not to the one before.
	f.mu.Lock()
	prev, hadPrev := f.want[want.Service]
	f.want[want.Service] = want
	f.mu.Unlock()
	apply := func(h *host, d target.Desired) error {
		defer h.lock(d.Service)()
		actx, cancel := context.WithTimeout(ctx, applyTimeout(d))
		defer cancel()
		err := h.Agent.Apply(actx, d)
		switch {
		case err == nil:
			h.ok()
			h.mu.Lock()
			delete(h.pending, d.Service)
			h.mu.Unlock()
		case unreachable(err) && ctx.Err() == nil:
			h.fail(err, f.now())
			h.mu.Lock()
			h.pending[d.Service] = true
			h.mu.Unlock()
		}
		return err
	}
	errs := f.each(func(h *host) error { return apply(h, want) })
	var refused, lost []string
	var first error
	for i, err := range errs {
		switch {
		case err == nil:
		case !unreachable(err):
			refused = append(refused, f.hosts[i].Name)
			if first == nil || !unreachable(first) && errors.Is(first, target.ErrInvalid) {
				first = err
			}
		default:
			lost = append(lost, fmt.Sprintf("%s (%s): %v", f.hosts[i].Name, f.hosts[i].Address, err))
		}
	}
	if len(refused) > 0 {
		f.mu.Lock()
		if hadPrev {
			f.want[want.Service] = prev
		} else {
			delete(f.want, want.Service)
		}
		f.mu.Unlock()
		if hadPrev { // the hosts that took want go back to what the others still run
			for i, err := range errs {
				if err == nil {
					_ = apply(f.hosts[i], prev)
				}
			}
		}
		// A host that answered again meanwhile may have been given want:
		// the next check brings every host back to prev.
		for _, h := range f.hosts {
			h.mu.Lock()
			h.pending[want.Service] = true
			h.mu.Unlock()
		}
		return fmt.Errorf("host %s: %w", strings.Join(refused, ", "), first)
	}
	if len(lost) > 0 {
		return fmt.Errorf("%w: unknown host %s; it gets the desired state when it answers again", ErrUnknownHost, strings.Join(lost, "; "))
	}
	return nil
}

// ErrUnknownHost is a host that could not be reached.
var ErrUnknownHost = errors.New("fleet host unknown")

// Unknown checks every host: one that was unknown is brought to the desired
// state of every service (and known again if that works), one that was
// known is asked what it runs; those that cannot be reached are returned.
func (f *Fleet) Unknown(ctx context.Context, env string) []target.HostState {
	f.mu.Lock()
	want := make([]target.Desired, 0, len(f.want))
	for _, d := range f.want {
		want = append(want, d)
	}
	f.mu.Unlock()
	slices.SortFunc(want, func(a, b target.Desired) int { return strings.Compare(a.Service, b.Service) })
	f.each(func(h *host) error {
		h.mu.Lock()
		wasUnknown := h.err != nil
		var todo []target.Desired
		for _, d := range want {
			if wasUnknown || h.pending[d.Service] {
				todo = append(todo, d)
			}
		}
		h.mu.Unlock()
		pctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
		defer cancel()
		// Probe every time, even with no desired state recorded here (a
		// server that just took the lead): a host is known again only once
		// it has answered.
		penv, psvc := env, ""
		if len(want) > 0 {
			penv, psvc = want[0].Environment, want[0].Service
		}
		if _, err := h.Agent.Observe(pctx, penv, psvc); unreachable(err) {
			if ctx.Err() != nil {
				return ctx.Err() // the caller went away: says nothing about the host
			}
			h.fail(err, f.now())
			return err
		}
		for _, d := range todo {
			if err := f.reapply(ctx, h, d.Service); err != nil {
				h.fail(fmt.Errorf("answers again but did not take the desired state of %s: %w", d.Service, err), f.now())
				return err
			}
		}
		h.ok()
		return nil
	})
	var out []target.HostState
	for _, h := range f.hosts {
		if s := h.state(); s.Unknown {
			out = append(out, s)
		}
	}
	return out
}

// reapply brings h to the service's desired state as it is once h's apply
// lock of the service is held: a rollout's Apply that went first has
// already set a newer one, which is the one h gets.
func (f *Fleet) reapply(ctx context.Context, h *host, service string) error {
	defer h.lock(service)()
	f.mu.Lock()
	d, ok := f.want[service]
	f.mu.Unlock()
	if ok {
		actx, cancel := context.WithTimeout(ctx, applyTimeout(d))
		err := h.Agent.Apply(actx, d)
		cancel()
		if err != nil {
			return err
		}
	}
	h.mu.Lock()
	delete(h.pending, service)
	h.mu.Unlock()
	return nil
}

// Observe sums what every host runs: instances of an unknown host count as
// not ready, and Hosts says which hosts are unknown.
func (f *Fleet) Observe(ctx context.Context, env, service string) (target.Observed, error) {
	obs := make([]target.Observed, len(f.hosts))
	errs := f.each(func(h *host) error {
		pctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
		defer cancel()
		o, err := h.Agent.Observe(pctx, env, service)
		if unreachable(err) && ctx.Err() == nil { // a caller that went away says nothing about the host
			h.fail(err, f.now())
		}
		obs[i(f, h)] = o
		return err
	})
	out := target.Observed{Environment: env, Service: service}
	byVersion := map[string]*target.ObservedVersion{}
	found := false
	var notFound error
	for k, h := range f.hosts {
		st := h.state()
		st.Listen = reachable(h.Address, obs[k].Listen)
		out.Hosts = append(out.Hosts, st)
		switch err := errs[k]; {
		case errors.Is(err, target.ErrNotFound):
			notFound = err
			continue
		case err != nil:
			continue
		}
		found = true
		if out.Listen == "" {
			out.Listen = obs[k].Listen
		}
		for _, v := range obs[k].Versions {
			s, ok := byVersion[v.Version]
			if !ok {
				c := v
				c.Instances, c.Ready, c.HealthFailures, c.Restarts = 0, 0, 0, 0
				s = &c
				byVersion[v.Version] = s
				out.Versions = append(out.Versions, c)
			}
			s.Instances += v.Instances
			s.Ready += v.Ready
			s.HealthFailures += v.HealthFailures
			s.Restarts += v.Restarts
			s.Weight = min(s.Weight, v.Weight) // a weight is in force once every host has it
		}
	}
	if !found {
		if notFound != nil {
			return target.Observed{}, notFound
		}
		return target.Observed{}, fmt.Errorf("%w: no host of %s answers: %v", ErrUnknownHost, env, errors.Join(errs...))
	}
	// Instances an unknown host should run count as not ready.
	f.mu.Lock()
	want, ok := f.want[service]
	f.mu.Unlock()
	for k := range f.hosts {
		if errs[k] == nil || errors.Is(errs[k], target.ErrNotFound) || !ok {
			continue
		}
		for _, v := range want.Versions {
			if s, found := byVersion[v.Version]; found {
				s.Instances += v.Instances
			}
		}
	}
	for j := range out.Versions {
		out.Versions[j] = *byVersion[out.Versions[j].Version]
	}
	return out, nil
}

// reachable is the address of a host's proxy listening on listen, as
// reached at the host's API address: a proxy on every address of the host
// (0.0.0.0, ::) is reached at the API's host.
func reachable(apiAddr, listen string) string {
	lh, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(lh); lh == "" || ip != nil && ip.IsUnspecified() {
		if ah, _, err := net.SplitHostPort(apiAddr); err == nil {
			return net.JoinHostPort(ah, port)
		}
	}
	return listen
}

func i(f *Fleet, h *host) int { return slices.Index(f.hosts, h) }

// Counters sums every host's counters per version; while a host cannot be
// reached there are none (a partial sum would look like traffic lost).
func (f *Fleet) Counters(ctx context.Context, env, service string) ([]target.Counters, error) {
	all := make([][]target.Counters, len(f.hosts))
	errs := f.each(func(h *host) error {
		pctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
		defer cancel()
		cs, err := h.Agent.Counters(pctx, env, service)
		if unreachable(err) {
			if ctx.Err() == nil { // a caller that went away says nothing about the host
				h.fail(err, f.now())
			}
			return fmt.Errorf("host %s (%s): %w", h.Name, h.Address, err)
		}
		all[i(f, h)] = cs
		return err
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return Sum(all...), nil
}

// Sum adds counters of several hosts version by version: requests, errors,
// in flight, latency buckets (when the bounds agree), health failures,
// restarts and shadow pairs; At is the latest.
func Sum(hosts ...[]target.Counters) []target.Counters {
	var out []target.Counters
	idx := map[string]int{}
	for _, cs := range hosts {
		for _, c := range cs {
			k, ok := idx[c.Version]
			if !ok {
				c.LatencyBounds = slices.Clone(c.LatencyBounds)
				c.LatencyCounts = slices.Clone(c.LatencyCounts)
				if c.Shadow != nil {
					s := *c.Shadow
					c.Shadow = &s
					s.StableLatencyCounts, s.NewLatencyCounts = slices.Clone(s.StableLatencyCounts), slices.Clone(s.NewLatencyCounts)
					s.NewSlower, s.StableSlower = slices.Clone(s.NewSlower), slices.Clone(s.StableSlower)
					s.Dropped = cloneMap(s.Dropped)
					*c.Shadow = s
				}
				idx[c.Version] = len(out)
				out = append(out, c)
				continue
			}
			s := &out[k]
			s.Requests += c.Requests
			s.Errors += c.Errors
			s.InFlight += c.InFlight
			s.HealthFailures += c.HealthFailures
			s.Restarts += c.Restarts
			if c.At.After(s.At) {
				s.At = c.At
			}
			if slices.Equal(s.LatencyBounds, c.LatencyBounds) {
				addInto(s.LatencyCounts, c.LatencyCounts)
			}
			if c.Shadow != nil {
				if s.Shadow == nil {
					s.Shadow = &target.ShadowCounters{}
				}
				a, b := s.Shadow, c.Shadow
				a.Sent += b.Sent
				a.BothOK += b.BothOK
				a.NewFailed += b.NewFailed
				a.StableFailed += b.StableFailed
				a.BothFailed += b.BothFailed
				for r, n := range b.Dropped {
					if a.Dropped == nil {
						a.Dropped = map[string]int64{}
					}
					a.Dropped[r] += n
				}
				a.StableLatencyCounts = addGrow(a.StableLatencyCounts, b.StableLatencyCounts)
				a.NewLatencyCounts = addGrow(a.NewLatencyCounts, b.NewLatencyCounts)
				a.NewSlower = addGrow(a.NewSlower, b.NewSlower)
				a.StableSlower = addGrow(a.StableSlower, b.StableSlower)
			}
		}
	}
	return out
}

func cloneMap(m map[string]int64) map[string]int64 {
	if m == nil {
		return nil
	}
	c := make(map[string]int64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func addInto(dst, src []int64) {
	for j := range min(len(dst), len(src)) {
		dst[j] += src[j]
	}
}

func addGrow(dst, src []int64) []int64 {
	if len(dst) < len(src) {
		dst = append(dst, make([]int64, len(src)-len(dst))...)
	}
	addInto(dst, src)
	return dst
}
