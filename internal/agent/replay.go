package agent

import (
	"context"

	"github.com/belay-dev/belay/internal/agent/proxy"
	"github.com/belay-dev/belay/internal/target"
)

// replayer replays another environment's sample of a service to this
// environment's shadow version (target.Shadow.Replay); the proxy sends
// the requests and counts the pairs, this only runs it.
type replayer struct {
	from string // the environment whose sample is replayed
	rate float64
	stop context.CancelFunc
	done chan struct{}
}

// syncReplay runs the replayer sh asks for, if any, and stops one it no
// longer asks for. The caller holds applyMu. The replayer reads the
// versions and instances to replay to from the table in force, so only a
// change of source or rate restarts it.
func (s *service) syncReplay(sh *target.Shadow) {
	want := sh != nil && sh.Replay != ""
	if r := s.replay; r != nil {
		if want && r.from == sh.Replay && r.rate == sh.ReplayRate {
			return
		}
		r.stop()
		<-r.done
		s.replay = nil
	}
	if !want {
		return
	}
	ctx, cancel := context.WithCancel(s.a.ctx)
	r := &replayer{from: sh.Replay, rate: sh.ReplayRate, stop: cancel, done: make(chan struct{})}
	sample := func() []proxy.SampledRequest { return s.a.sample(r.from, s.key.service) }
	go func() {
		defer close(r.done)
		s.proxy.Replay(ctx, sample, r.rate)
	}()
	s.replay = r
}

// sample is the recent requests of a service in an environment on this
// agent; none when it does not run here.
func (a *Agent) sample(env, svc string) []proxy.SampledRequest {
	s, err := a.lookup(env, svc)
	if err != nil {
		return nil
	}
	return s.proxy.Sample()
}
