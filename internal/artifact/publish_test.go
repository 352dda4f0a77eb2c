package artifact_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/artifact/layout"
	"github.com/belay-dev/belay/internal/artifact/storetest"
	"github.com/belay-dev/belay/internal/event"
)

// records is a Recorder keeping records in memory, as the state store does in SQL.
type records []artifact.Record

func (r *records) RecordArtifact(_ context.Context, rec artifact.Record) error {
	*r = append(*r, rec)
	return nil
}

func TestPublishRecordsAndEmits(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := layout.New(filepath.Join(dir, "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	signer := storetest.Key(t)
	b := storetest.Built(t, "hello", "0123456789abcdef0123456789abcdef01234567", "hi")
	var recs records
	sink := event.NewFile(filepath.Join(dir, "events.jsonl"))
	opts := artifact.PublishOptions{Signer: signer, Recorder: &recs, Events: sink}
	for range 2 { // the second publish stores nothing and emits nothing; recording is idempotent
		if _, err := artifact.Publish(ctx, s, b, opts); err != nil {
			t.Fatal(err)
		}
	}
	want := artifact.Record{Digest: b.Digest.String(), Version: b.Meta.Version, Service: "hello", Commit: b.Meta.Commit, BuiltAt: b.Finished, CommittedAt: b.Meta.Created, Signer: signer.ID}
	if len(recs) != 2 || recs[0] != want || recs[1] != want {
		t.Fatalf("records %+v, want %+v twice", recs, want)
	}
	evs, err := event.ReadFile(sink.Path())
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Event != event.ArtifactPublished || evs[0].Version != b.Meta.Version || evs[0].Digest != b.Digest.String() {
		t.Fatalf("events %+v", evs)
	}
	if _, err := artifact.Publish(ctx, s, b, artifact.PublishOptions{}); !errors.Is(err, artifact.ErrUnsigned) {
		t.Fatalf("publish without a key: %v", err)
	}
}

// The refs of a build are read back from its signed provenance. The same
// bytes built again from a new ref (the commit since tagged) keep their
// version, and another signed provenance records the new ref; a provenance
// signed by a key not trusted adds nothing; an artifact from before refs
// were recorded verifies with none.
func TestPublishRecordsRefs(t *testing.T) {
	ctx := context.Background()
	s, err := layout.New(filepath.Join(t.TempDir(), "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	signer, other := storetest.Key(t), storetest.Key(t)
	trusted := []artifact.PublicKey{signer.Public()}
	refs := func() []string {
		t.Helper()
		r, err := artifact.Verify(ctx, s, "hello-2026.05.12-0123456", trusted)
		if err != nil {
			t.Fatal(err)
		}
		return r.Refs
	}
	b := storetest.Built(t, "hello", "0123456789abcdef0123456789abcdef01234567", "hi")
	if _, err := artifact.Publish(ctx, s, b, artifact.PublishOptions{Signer: signer}); err != nil {
		t.Fatal(err)
	}
	if got := refs(); len(got) != 0 {
		t.Fatalf("an artifact built without refs verifies with refs %v", got)
	}

	b.Refs = []string{"refs/heads/main"}
	p, err := artifact.Publish(ctx, s, b, artifact.PublishOptions{Signer: signer})
	if err != nil || !p.Existing || !slices.Equal(p.RefsAdded, b.Refs) {
		t.Fatalf("rebuilt from main: %+v %v", p, err)
	}
	b.Refs = []string{"refs/heads/main", "refs/tags/v1.0.0"}
	if p, err = artifact.Publish(ctx, s, b, artifact.PublishOptions{Signer: signer}); err != nil || !slices.Equal(p.RefsAdded, []string{"refs/tags/v1.0.0"}) {
		t.Fatalf("rebuilt once tagged: %+v %v", p, err)
	}
	if p, err = artifact.Publish(ctx, s, b, artifact.PublishOptions{Signer: signer}); err != nil || p.RefsAdded != nil || p.Version != "hello-2026.05.12-0123456" {
		t.Fatalf("rebuilt from the same refs: %+v %v", p, err)
	}
	if got := refs(); !slices.Equal(got, []string{"refs/heads/main", "refs/tags/v1.0.0"}) {
		t.Fatalf("refs %v", got)
	}

	b.Refs = []string{"refs/heads/release/9"}
	if p, err = artifact.Publish(ctx, s, b, artifact.PublishOptions{Signer: other}); err != nil || !slices.Equal(p.RefsAdded, b.Refs) {
		t.Fatalf("another key: %+v %v", p, err)
	}
	if got := refs(); slices.Contains(got, "refs/heads/release/9") {
		t.Fatalf("a provenance signed by an untrusted key added its refs: %v", got)
	}
	r, err := artifact.Verify(ctx, s, "hello-2026.05.12-0123456", append(trusted, other.Public()))
	if err != nil || !slices.Contains(r.Refs, "refs/heads/release/9") {
		t.Fatalf("trusting both keys: %v %v", r.Refs, err)
	}
}
