package event

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestGrafanaAnnotation: markers go to /api/annotations with the bearer
// token, time in milliseconds and the tags dashboards filter on.
func TestGrafanaAnnotation(t *testing.T) {
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/annotations" || r.Header.Get("Authorization") != "Bearer glsa_x" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "wrong request "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
			return
		}
		dec := json.NewDecoder(r.Body)
		if err := dec.Decode(&got); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, `{"id": 1, "message": "Annotation added"}`)
	}))
	defer srv.Close()
	g := &Grafana{Name: "g", URL: srv.URL + "/", Token: "glsa_x"}
	if !g.Wants(promoted) || g.Wants(Event{Event: CanaryStep}) {
		t.Error("Wants: promotions are markers, canary steps are not")
	}
	if err := g.Emit(context.Background(), promoted); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"time": float64(promoted.Time.UnixMilli()),
		"tags": []any{"belay", "api", "production", "api-2026.05.12-8f3a91c", "deployment_promoted"},
		"text": "deployment promoted: api api-2026.05.12-8f3a91c in production (watch 10m: healthy)"}
	if g, w := must(json.Marshal(got)), must(json.Marshal(want)); !bytes.Equal(g, w) {
		t.Errorf("annotation\n got %s\nwant %s", g, w)
	}
}
