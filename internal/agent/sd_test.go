package agent

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The agent's /v1/sd lists each version's instances with service, version
// and environment labels, in Prometheus http_sd form, and each target is
// an instance answering its own /metrics.
func TestServiceDiscoveryListsInstances(t *testing.T) {
	a := newAgent(t, "")
	apply(t, a, desired(hello("v1", 90, 2), hello("v2", 10, 1, "QUEUE_DEPTH", "5000")))
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/v1/sd")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var groups []SDGroup
	if err := json.NewDecoder(resp.Body).Decode(&groups); err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, %v", resp.StatusCode, err)
	}
	if len(groups) != 2 || len(groups[0].Targets) != 2 || len(groups[1].Targets) != 1 {
		t.Fatalf("groups %+v", groups)
	}
	want := map[string]string{"v1": "hello_queue_depth 0\n", "v2": "hello_queue_depth 5000\n"}
	for _, g := range groups {
		if g.Labels["service"] != "hello" || g.Labels["environment"] != "test" || want[g.Labels["version"]] == "" {
			t.Fatalf("labels %v", g.Labels)
		}
		for _, tg := range g.Targets {
			r, err := http.Get("http://" + tg + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			if !strings.Contains(string(b), want[g.Labels["version"]]) {
				t.Errorf("%s (%s) /metrics: %s", tg, g.Labels["version"], b)
			}
		}
	}
}
