package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/event"
)

// TestWebhookSinkSurvivesServerKills: a real `belay server` delivering a
// release's events to a slow webhook is killed with SIGKILL while events
// are pending, twice; after the restarts every stored event reaches the
// receiver, each signature verifies, and no event is delivered more than
// once beyond the one in flight at each kill.
func TestWebhookSinkSurvivesServerKills(t *testing.T) {
	if testing.Short() {
		t.Skip("builds belay and examples/hello, runs a real release and kills the server")
	}
	const key = "whsec_" + "YmVsYXktY3Jhc2gtdGVzdC1rZXk=" // base64 of a test key
	var mu sync.Mutex
	got := map[string]int{} // successful deliveries by idempotency key
	var bad []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		time.Sleep(150 * time.Millisecond) // slow, so that events are pending when the server dies
		mu.Lock()
		defer mu.Unlock()
		if err := event.Verify(key, req.Header, body, time.Now(), 5*time.Minute); err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", req.Header.Get("webhook-id"), err))
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got[req.Header.Get("webhook-id")]++
	}))
	defer recv.Close()

	staging, production := freePort(t), freePort(t)
	r := newCrashRig(t, func(y string) string {
		return crashYAML(t, y, staging, production) + "\nevents:\n  webhooks:\n    - {name: ops, url: " + recv.URL + ", secret_env: BELAY_TEST_WEBHOOK_KEY}\n"
	})
	r.env = append(r.env, "BELAY_TEST_WEBHOOK_KEY="+key)
	r.run(r.bin, "keys", "create")
	v1 := r.commit("v1")
	r.start()
	r.run(r.bin, "release", "hello", v1)
	kills := 0
	for _, env := range []string{"staging", "production"} {
		id := r.rolloutOf(env, v1)
		// Kill once the receiver is busy, mid-rollout.
		for deadline := time.Now().Add(time.Minute); kills < 2 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			mu.Lock()
			n := len(got)
			mu.Unlock()
			if n > 2*kills+1 {
				r.crash()
				kills++
				break
			}
		}
		r.follow(id, false)
	}
	// belay build, a process of its own, stores artifact_published in the
	// outbox too: the running server's sink delivers it.
	editFile(t, filepath.Join(r.proj, "main.go"), `"service": "hello",`, `"service": "hello", "greeting": "hi",`)
	v2 := r.commit("v2")
	var stored []map[string]any
	if err := r.get("/api/v1/events", &stored); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	published := ""
	for _, e := range stored {
		id, _ := e["id"].(string)
		if id == "" || e["event"] == event.ArtifactPublished && e["version"] == v1 {
			continue // v1 was built before the server, and its sink, began: a new sink is not sent the past
		}
		want["belay:ops:"+id] = true
		if e["event"] == event.ArtifactPublished && e["version"] == v2 {
			published = "belay:ops:" + id
		}
	}
	if published == "" {
		t.Fatalf("no artifact_published event for %s among the %d stored events", v2, len(stored))
	}
	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		var missing []string
		for k := range want {
			if got[k] == 0 {
				missing = append(missing, k)
			}
		}
		mu.Unlock()
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(r.home, "server.log"))
			var sinkLines []string
			for _, l := range strings.Split(string(log), "\n") {
				if strings.Contains(l, "sink") {
					sinkLines = append(sinkLines, l)
				}
			}
			t.Fatalf("%d of %d stored events never reached the webhook after %d kills: %v\nthe server's log of its sinks:\n%s",
				len(missing), len(want), kills, missing, strings.Join(sinkLines, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	repeats := 0
	for k, n := range got {
		if !want[k] {
			t.Errorf("delivered %s, which is not a stored event", k)
		}
		repeats += n - 1
	}
	if len(bad) > 0 {
		t.Errorf("signatures that did not verify: %v", bad)
	}
	if kills < 2 || repeats > kills {
		t.Errorf("%d kills, %d repeated deliveries; want 2 kills and at most one repeat each (the one in flight)", kills, repeats)
	}
	t.Logf("%d events delivered through %d SIGKILLs of the server; %d repeated (in flight at a kill)", len(want), kills, repeats)
}
