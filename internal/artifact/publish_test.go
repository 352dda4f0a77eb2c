package artifact_test

import (
	"context"
	"errors"
	"path/filepath"
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
	want := artifact.Record{Digest: b.Digest.String(), Version: b.Meta.Version, Service: "hello", Commit: b.Meta.Commit, BuiltAt: b.Finished, Signer: signer.ID}
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
