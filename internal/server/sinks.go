package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
)

// The event sinks of belay.yaml's events: block read the stored event log
// as an outbox: each sink has its own goroutine and its own place in the
// log (store.Sinks), so a slow or dead sink delays only itself, and a
// restarted server resumes each where it stopped. Delivery is at least
// once: an event whose success was not yet recorded when the server died
// is sent again, with the same idempotency key.

// sinkPoll is how often a sink looks for events stored by other processes
// (belay build's artifact_published); the server's own wake it at once.
const sinkPoll = time.Second

// sinkBatch is how many events a sink reads from the log at a time.
const sinkBatch = 100

// Of several servers on one database, one delivers each sink: the holder of
// the lease "sink:<name>" (store.Leases). It renews the lease before every
// attempt, for the attempt's timeout plus sinkLeaseMargin, and a server that
// finds it held by another looks again every poll; so when the holder dies,
// another resumes the sink, from its stored cursor and pending delivery,
// within the lease's time to live.
const sinkLeaseMargin = 20 * time.Second

// outlet delivers the event log to one sink.
type outlet struct {
	name   string
	sink   event.Sink
	retry  event.Retry
	st     store.Store
	wake   func() <-chan struct{}
	poll   time.Duration
	now    func() time.Time
	jitter func() float64
	log    *slog.Logger
	holder string        // this server, as a lease holder
	ttl    time.Duration // how long a renewal holds the sink's lease
	held   bool          // the last acquire got the lease
}

// ErrSinkConfig is a sink that cannot run as configured (its key's
// variable is unset).
var ErrSinkConfig = errors.New("event sink")

// outlets builds the sinks of p's events: block. A sink whose key variable
// is unset is left out with an error naming it: its events wait in the
// outbox until the server starts with the variable set.
func (s *Server) outlets(p *spec.Project) ([]*outlet, error) {
	if p.Events == nil {
		return nil, nil
	}
	var out []*outlet
	var errs []error
	key := func(sink, field, name string) (string, bool) {
		if name == "" {
			return "", true
		}
		v := s.d.Getenv(name)
		if v == "" {
			errs = append(errs, fmt.Errorf("%w %s: %s names $%s, which is not set in the server's environment; its events wait until it is", ErrSinkConfig, sink, field, name))
		}
		return v, v != ""
	}
	add := func(name string, sink event.Sink, timeout, giveUp spec.Duration) {
		r := event.DefaultRetry
		if giveUp > 0 {
			r.GiveUpAfter = giveUp.D()
		}
		if s.sinkBackoff > 0 {
			r.Base, r.Max = s.sinkBackoff, 8*s.sinkBackoff
		}
		out = append(out, &outlet{name: name, sink: sink, retry: r, st: s.d.Store, wake: s.notify.wait, poll: sinkPoll,
			now: s.d.Now, jitter: rand.Float64, log: s.d.Logger.With("sink", name), holder: s.d.Holder,
			ttl: max(timeout.D(), event.DefaultTimeout) + sinkLeaseMargin})
	}
	for _, w := range p.Events.Webhooks {
		if k, ok := key(w.Name, "secret_env", w.SecretEnv); ok {
			add(w.Name, &event.Webhook{Name: w.Name, URL: w.URL, Key: k, Only: w.Events, Timeout: w.Timeout.D(), Now: s.d.Now}, w.Timeout, w.GiveUpAfter)
		}
	}
	for _, c := range p.Events.CDEvents {
		src := c.Source
		if src == "" {
			src = "/belay/" + p.Name
		}
		if k, ok := key(c.Name, "token_env", c.TokenEnv); ok {
			add(c.Name, &event.CDEvents{Name: c.Name, URL: c.URL, Source: src, Token: k, Timeout: c.Timeout.D()}, c.Timeout, c.GiveUpAfter)
		}
	}
	for _, g := range p.Events.Grafana {
		if k, ok := key(g.Name, "token_env", g.TokenEnv); ok {
			add(g.Name, &event.Grafana{Name: g.Name, URL: g.URL, Token: k, Timeout: g.Timeout.D()}, g.Timeout, g.GiveUpAfter)
		}
	}
	return out, errors.Join(errs...)
}

// startSinks starts a goroutine per sink of belay.yaml as it is now (a
// changed events: block applies at the next start); wait returns once all
// have stopped after ctx ends.
func (s *Server) startSinks(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	p, err := s.Project()
	if err != nil {
		s.d.Logger.Error("event sinks not started", "err", err)
		return wg.Wait
	}
	outs, err := s.outlets(p)
	if err != nil {
		s.d.Logger.Error("event sinks", "err", err)
	}
	for _, o := range outs {
		if s.sinkPoll > 0 {
			o.poll = s.sinkPoll
		}
		wg.Go(func() { o.run(ctx) })
	}
	return wg.Wait
}

// run delivers until ctx ends, while this server holds the sink's lease.
func (o *outlet) run(ctx context.Context) {
	defer o.release(ctx)
	for ctx.Err() == nil {
		wake := o.wake() // before reading, so an event stored meanwhile wakes it
		n, err := 0, o.lease(ctx)
		if err == nil {
			n, err = o.drain(ctx)
		}
		if err != nil && !errors.Is(err, errLeaseHeld) && ctx.Err() == nil {
			o.log.Error("event sink", "err", err)
		}
		if n > 0 && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-time.After(o.poll):
		}
	}
}

// drain delivers the events after the sink's cursor, a batch at a time,
// and returns how many it read.
func (o *outlet) drain(ctx context.Context) (int, error) {
	after, err := o.st.SinkCursor(ctx, o.name, o.now())
	if err != nil {
		return 0, err
	}
	evs, err := o.st.EventsSince(ctx, after, sinkBatch)
	if err != nil {
		return 0, err
	}
	skip := after
	for _, se := range evs {
		var e event.Event
		if err := json.Unmarshal(se.Data, &e); err != nil || e.Event == "" {
			skip = se.ID // not belay's shape: nothing to send
			continue
		}
		if e.ID == "" { // an event without a stable ID gets the log's
			e.ID = fmt.Sprintf("belay-event-%d", se.ID)
		}
		if e.Time.IsZero() {
			e.Time = se.At
		}
		if f, ok := o.sink.(event.Filter); ok && !f.Wants(e) {
			skip = se.ID
			continue
		}
		if skip > after {
			if err := o.st.SkipEvents(ctx, o.name, skip, o.now()); err != nil {
				return 0, err
			}
		}
		if err := o.deliver(ctx, se.ID, e); err != nil {
			return 0, err
		}
		after, skip = se.ID, se.ID
	}
	if skip > after {
		if err := o.st.SkipEvents(ctx, o.name, skip, o.now()); err != nil {
			return 0, err
		}
	}
	return len(evs), nil
}

// deliver sends one event until it is delivered or given up, recording
// every attempt first, so a restart resumes the count and the backoff.
func (o *outlet) deliver(ctx context.Context, id int64, e event.Event) error {
	d, err := o.st.Delivery(ctx, o.name, id)
	if errors.Is(err, store.ErrNotFound) {
		d, err = store.Delivery{Sink: o.name, EventID: id, State: store.DeliveryPending}, nil
	}
	if err != nil {
		return err
	}
	for {
		if wait := d.NextTry.Sub(o.now()); wait > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		if err := o.lease(ctx); err != nil {
			return err // another server delivers it now, from the stored attempts
		}
		if d.Attempts == 0 {
			d.FirstTry = o.now()
		}
		sendErr := o.sink.Emit(ctx, e)
		if ctx.Err() != nil {
			return ctx.Err() // shutting down: this attempt does not count
		}
		d.Attempts++
		d.UpdatedAt = o.now()
		if sendErr == nil {
			d.State, d.NextTry, d.LastError = store.DeliveryDelivered, time.Time{}, ""
			return o.record(ctx, d)
		}
		d.LastError = sendErr.Error()
		next, giveUp := o.retry.Next(sendErr, d.Attempts, e.Time, d.UpdatedAt, o.jitter())
		if giveUp {
			d.State, d.NextTry = store.DeliveryFailed, time.Time{}
			o.log.Error("event not delivered: given up", "event", e.ID, "type", e.Event, "attempts", d.Attempts, "err", sendErr)
			return o.record(ctx, d)
		}
		d.NextTry = next
		o.log.Warn("event delivery failed; will retry", "event", e.ID, "attempt", d.Attempts, "retry_at", next, "err", sendErr)
		if err := o.record(ctx, d); err != nil {
			return err
		}
	}
}

// errLeaseHeld: another server holds the sink's lease and delivers it.
var errLeaseHeld = errors.New("another server delivers this sink")

// lease takes or renews the sink's lease, for at least one attempt; it is
// errLeaseHeld when another server has it.
func (o *outlet) lease(ctx context.Context) error {
	l, held, err := o.st.AcquireLease(ctx, "sink:"+o.name, o.holder, o.ttl, o.now())
	if err != nil {
		return err
	}
	if held != o.held {
		if held {
			o.log.Info("event sink: delivering from this server", "epoch", l.Epoch)
		} else {
			o.log.Info("event sink: another server delivers it", "holder", l.Holder, "until", l.ExpiresAt)
		}
		o.held = held
	}
	if !held {
		return errLeaseHeld
	}
	return nil
}

// release gives the lease up at shutdown, so that another server need not
// wait for it to expire.
func (o *outlet) release(ctx context.Context) {
	if !o.held {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := o.st.ReleaseLease(ctx, "sink:"+o.name, o.holder); err != nil {
		o.log.Warn("event sink: lease not released; another server takes it when it expires", "err", err)
	}
}

// record stores d even while the server shuts down, so that a delivered
// event is not sent again at the next start.
func (o *outlet) record(ctx context.Context, d store.Delivery) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return o.st.RecordDelivery(ctx, d)
}
