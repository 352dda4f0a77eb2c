package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/hook"
	"github.com/belay-dev/belay/internal/smoke"
)

func TestExecHooksRunsRealCommands(t *testing.T) {
	dir := t.TempDir()
	h := ExecHooks{Specs: func(s State) []hook.Spec {
		return []hook.Spec{{Name: "migrate", Command: "echo migrating $SERVICE > log && cat log", Dir: dir, Env: map[string]string{"SERVICE": s.Service}}}
	}}
	ev, err := h.Hooks(context.Background(), State{Config: Config{Service: "api"}})
	if err != nil || !strings.Contains(string(ev), "migrating api") {
		t.Fatalf("%v %s", err, ev)
	}
	h.Specs = func(State) []hook.Spec { return []hook.Spec{{Command: "echo broken; exit 1"}} }
	ev, err = h.Hooks(context.Background(), State{})
	if !permanent(context.Background(), err) || !strings.Contains(string(ev), "broken") {
		t.Fatalf("%v %s", err, ev)
	}
}

func TestHTTPSmokeTestsEveryURL(t *testing.T) {
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer good.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) }))
	defer bad.Close()
	urls := []string{good.URL, bad.URL}
	h := HTTPSmoke{
		Tests: func(State) []smoke.Test { return []smoke.Test{{Name: "root", HTTP: &smoke.HTTP{Path: "/"}}} },
		URLs:  func(context.Context, State) ([]string, error) { return urls, nil },
	}
	ev, err := h.Smoke(context.Background(), State{})
	if !permanent(context.Background(), err) {
		t.Fatalf("err %v", err)
	}
	var reps []smoke.Report
	if json.Unmarshal(ev, &reps) != nil || len(reps) != 2 || !reps[0].Passed || reps[1].Results[0].Status != 502 {
		t.Fatalf("evidence %s", ev)
	}
	urls = urls[:1]
	if _, err := h.Smoke(context.Background(), State{}); err != nil {
		t.Fatal(err)
	}
	h.URLs = func(context.Context, State) ([]string, error) { return nil, errors.New("agent down") }
	if _, err := h.Smoke(context.Background(), State{}); err == nil || permanent(context.Background(), err) {
		t.Fatalf("an unknown address is not a transient error: %v", err)
	}
}
