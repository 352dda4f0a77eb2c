package builtin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/analysis/builtin"
	"github.com/belay-dev/belay/internal/target"
)

// agentMetrics reads counters from an HTTP endpoint, as a local target
// would from the agent; the test serves them from an httptest server.
type agentMetrics struct{ url string }

func (m agentMetrics) Counters(ctx context.Context, env, service string) ([]target.Counters, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.url+"?env="+env+"&service="+service, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var cs []target.Counters
	return cs, json.NewDecoder(resp.Body).Decode(&cs)
}

func TestBuiltinSourceFiltersAndFails(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("service") != "api" {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		json.NewEncoder(w).Encode([]target.Counters{{Version: "v1", Requests: 100}, {Version: "v2", Requests: 5, Errors: 1}, {Version: "v0"}})
	}))
	src := builtin.New(agentMetrics{srv.URL})
	cs, err := src.Counters(context.Background(), analysis.Query{Environment: "production", Service: "api", Versions: []string{"v2", "v1"}})
	if err != nil || len(cs) != 2 || cs[0].Version != "v1" || cs[1].Errors != 1 {
		t.Fatalf("%+v, %v", cs, err)
	}
	srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := src.Counters(ctx, analysis.Query{Service: "api"}); !errors.Is(err, analysis.ErrNoData) {
		t.Errorf("agent down: %v, want ErrNoData", err)
	}
}
