package server

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestOneLeaderOfSeveral: two servers serving on one store; exactly one
// leads (drives the engine), the other follows; when the leader stops it
// gives the lease up and the other leads within a poll.
func TestOneLeaderOfSeveral(t *testing.T) {
	a, _ := testServer(t)
	a.d.Holder = "host-a:/srv/a"
	b, err := New(a.d)
	if err != nil {
		t.Fatal(err)
	}
	b.d.Holder = "host-b:/srv/b"
	stopA, stopB := serve(t, a), serve(t, b)
	defer func() { stopB() }()
	leads := func(s *Server) bool { return testutil.ToFloat64(s.metrics.leader) == 1 }
	waitFor(t, "a leader", 10*time.Second, func() bool { return leads(a) || leads(b) })
	time.Sleep(3 * leaderRenew) // renewals keep it where it is
	if leads(a) == leads(b) {
		t.Fatalf("a leads %v, b leads %v: want exactly one", leads(a), leads(b))
	}
	first, second := a, b
	if leads(b) {
		first, second = b, a
		stopA, stopB = stopB, stopA
	}
	stopA()
	if leads(first) {
		t.Fatal("a stopped server still counts itself leader")
	}
	waitFor(t, "the other server to lead", leaderPoll+3*time.Second, func() bool { return leads(second) })
	l, held, err := a.d.Store.AcquireLease(t.Context(), leaderLease, "probe", time.Second, time.Now())
	if err != nil || held || l.Holder != second.d.Holder || l.Epoch != 2 {
		t.Fatalf("leader lease %+v held by probe %v (%v); want %s's, epoch 2", l, held, err, second.d.Holder)
	}
}
