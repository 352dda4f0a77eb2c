package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/api"
)

// rolloutServer answers like a belay server that holds rollouts 1..newest
// (but not those in gaps), waiting queue entries, and the newest rollout
// in flight in inFlight (none when empty) of a release through staging and
// production; create makes the next rollout appear, as the queue pump does.
type rolloutServer struct {
	mu       sync.Mutex
	newest   int64
	gaps     map[int64]bool
	waiting  int
	inFlight string
}

func (s *rolloutServer) create() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.newest++
	s.waiting--
}

func (s *rolloutServer) client(t *testing.T) *apiClient {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/rollouts/{id}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		var id int64
		fmt.Sscan(r.PathValue("id"), &id)
		if id <= 0 || id > s.newest || s.gaps[id] {
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf("not found: no rollout %d", id)})
			return
		}
		_ = json.NewEncoder(w).Encode(api.RolloutView{ID: id, Phase: "Succeeded", Terminal: true})
	})
	mux.HandleFunc("GET /api/v1/rollouts", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		out := []api.RolloutView{}
		for id := int64(1); id <= s.newest; id++ {
			active := id == s.newest && s.inFlight != ""
			if !s.gaps[id] && (active || r.URL.Query().Get("active") != "1") {
				out = append(out, api.RolloutView{ID: id, Release: 1, Environment: s.inFlight, Terminal: !active})
			}
		}
		_ = json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("GET /api/v1/releases/1", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(api.ReleaseView{ID: 1, Environments: []string{"staging", "production"}})
	})
	mux.HandleFunc("GET /api/v1/queue", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		out := []api.QueueView{}
		for i := range s.waiting {
			out = append(out, api.QueueView{ID: int64(i + 1), State: "waiting"})
		}
		_ = json.NewEncoder(w).Encode(out)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &apiClient{base: srv.URL, http: srv.Client()}
}

// A rollout that does not exist fails at once, saying why it will not
// appear; one that a waiting release may still create is waited for.
func TestWaitForARolloutThatDoesNotExist(t *testing.T) {
	for _, c := range []struct {
		name    string
		srv     *rolloutServer
		id      string
		wantErr string // "" waits (until the test's short timeout); a wait that waited ends "before the timeout"
	}{
		{"none yet", &rolloutServer{}, "1",
			"no rollout 1: there is no rollout yet, and no release is under way to start one: see rollout numbers with `belay status` or `belay history <service>`"},
		{"past the newest", &rolloutServer{newest: 7}, "9",
			"no rollout 9: the newest is rollout 7, and no release is under way to start another: see rollout numbers"},
		{"past what the queue starts", &rolloutServer{newest: 7, waiting: 1}, "9",
			"no rollout 9: the newest is rollout 7, and the releases under way would start at most rollout 8: see rollout numbers"},
		{"after the last environment", &rolloutServer{newest: 7, inFlight: "production"}, "8",
			"no rollout 8: the newest is rollout 7, and no release is under way to start another: see rollout numbers"},
		{"a gap", &rolloutServer{newest: 7, gaps: map[int64]bool{5: true}}, "5",
			"no rollout 5: it was never created (the newest is rollout 7): see rollout numbers"},
		{"zero", &rolloutServer{newest: 7}, "0", "not found: no rollout 0: see rollout numbers"},
		{"the next one, queued", &rolloutServer{newest: 7, waiting: 1}, "8", ""},
		{"the next one, its release in staging", &rolloutServer{newest: 7, inFlight: "staging"}, "8", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := waitRollout(ctx, c.srv.client(t), c.id, "")
			switch {
			case c.wantErr == "" && (err == nil || !strings.Contains(err.Error(), "rollout 8 was not created before the timeout")):
				t.Fatalf("waited for a rollout that may appear: %v", err)
			case c.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), c.wantErr)):
				t.Fatalf("error %v, want %q", err, c.wantErr)
			}
		})
	}
}

// The next rollout of a queued release is waited for until it appears.
func TestWaitForTheNextRolloutOfAQueuedRelease(t *testing.T) {
	srv := &rolloutServer{newest: 1, waiting: 1}
	c := srv.client(t)
	time.AfterFunc(300*time.Millisecond, srv.create)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := waitRollout(ctx, c, "2", "")
	if err != nil || v.ID != 2 {
		t.Fatalf("rollout %+v, %v", v, err)
	}
}
