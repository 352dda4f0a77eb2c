package event

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
)

func TestFileConcurrentAppend(t *testing.T) {
	f := NewFile(filepath.Join(t.TempDir(), "sub", "events.jsonl"))
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.Emit(context.Background(), Event{Event: DeploymentStarted, Service: "api"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := ReadFile(f.Path())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 50 || got[0].Service != "api" || got[0].Time.IsZero() {
		t.Fatalf("got %d events, first %+v", len(got), got[0])
	}
}
