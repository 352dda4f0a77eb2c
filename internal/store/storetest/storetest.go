// Package storetest is the suite every store backend passes:
//
//	func TestSuite(t *testing.T) { storetest.Run(t, func(t *testing.T) store.Store { … }) }
//
// open must return a fresh, empty, migrated store for each call and close it
// at the test's cleanup.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

// Opener returns a fresh store for one test.
type Opener func(t testing.TB) store.Store

// Run runs the whole suite; subtests run in parallel, each on its own store.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Artifact", testArtifact},
		{"ArtifactConflict", testArtifactConflict},
		{"ArtifactConcurrent", testArtifactConcurrent},
		{"Release", testRelease},
		{"Rollout", testRollout},
		{"RolloutActiveConflict", testRolloutActiveConflict},
		{"RolloutInvalid", testRolloutInvalid},
		{"TransitionStale", testTransitionStale},
		{"TransitionAtomic", testTransitionAtomic},
		{"TransitionRollback", testTransitionRollback},
		{"TransitionEventDedupe", testTransitionEventDedupe},
		{"CreateRolloutEffects", testCreateRolloutEffects},
		{"TransitionConcurrent", testTransitionConcurrent},
		{"CreateRolloutConcurrent", testCreateRolloutConcurrent},
		{"ListRollouts", testListRollouts},
		{"Stable", testStable},
		{"Queue", testQueue},
		{"QueueSupersede", testQueueSupersede},
		{"QueueStart", testQueueStart},
		{"QueueStartConcurrent", testQueueStartConcurrent},
		{"QueueCancel", testQueueCancel},
		{"Rejections", testRejections},
		{"Analysis", testAnalysis},
		{"Samples", testSamples},
		{"Events", testEvents},
		{"EventsFollowConcurrent", testEventsFollowConcurrent},
		{"Audit", testAudit},
		{"AuditLog", testAuditLog},
		{"Approval", testApproval},
		{"Token", testToken},
		{"TokenConflict", testTokenConflict},
		{"TokenInvalid", testTokenInvalid},
		{"TokenRevoke", testTokenRevoke},
		{"TokenCreateConcurrent", testTokenCreateConcurrent},
		{"FlagOverride", testFlagOverride},
		{"FlagOverrideInvalid", testFlagOverrideInvalid},
		{"CIRuns", testCIRuns},
		{"Sinks", testSinks},
		{"Leases", testLeases},
		{"LeasesConcurrent", testLeasesConcurrent},
		{"SLOSamples", testSLOSamples},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer fatalOnFailure(t)
			tc.fn(t, open(t))
		})
	}
}

// at is a fixed instant with nanoseconds and a zone, to check the store
// normalises times to UTC microseconds.
var at = time.Date(2026, 5, 12, 10, 30, 0, 123456789, time.FixedZone("CEST", 2*3600))

func norm(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func ctx(t testing.TB) context.Context { return t.Context() }

// failure is what must panics with; Run turns it into t.Fatal. (Go cannot
// pass a multi-value call beside t, hence the panic.)
type failure struct {
	where string
	err   error
}

// must returns v, or fails the test when err is not nil.
func must[T any](v T, err error) T {
	if err != nil {
		_, file, line, _ := runtime.Caller(1)
		panic(failure{fmt.Sprintf("%s:%d", filepath.Base(file), line), err})
	}
	return v
}

// must2 is must for a call returning two values.
func must2[T, U any](v T, w U, err error) (T, U) {
	if err != nil {
		_, file, line, _ := runtime.Caller(1)
		panic(failure{fmt.Sprintf("%s:%d", filepath.Base(file), line), err})
	}
	return v, w
}

// fatalOnFailure turns a must failure into a test failure; call it deferred
// in the test's goroutine.
func fatalOnFailure(t testing.TB) {
	if r := recover(); r != nil {
		f, ok := r.(failure)
		if !ok {
			panic(r)
		}
		t.Fatalf("%s: %v", f.where, f.err)
	}
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr checks err wraps target and mentions every fragment.
func wantErr(t *testing.T, err, target error, fragments ...string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not mention %q", err, f)
		}
	}
}

func sameJSON(t *testing.T, what string, got, want json.RawMessage) {
	t.Helper()
	if string(got) != string(want) {
		t.Errorf("%s = %s, want %s (byte for byte)", what, got, want)
	}
}
