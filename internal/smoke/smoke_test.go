package smoke

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func newService(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok v2") })
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Token") != "t" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"order":{"id":7,"items":[{"sku":"a"}],"paid":true}}`)
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("GET /broken", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database down", http.StatusInternalServerError)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestRunAllPass(t *testing.T) {
	srv := newService(t)
	rep, err := Run(context.Background(), srv.Client(), srv.URL+"/", []Test{
		{Name: "health", HTTP: &HTTP{Path: "/healthz", BodyContains: "v2"}},
		{Name: "order", HTTP: &HTTP{
			Method: "POST", Path: "/orders", Header: map[string]string{"X-Token": "t"}, Body: "{}",
			ExpectStatus: 201,
			JSON:         map[string]any{"order.id": 7, "order.items.0.sku": "a", "order.paid": "true"},
		}},
		{Name: "cli", Command: `echo "checked $BASE_URL"`},
	})
	if err != nil {
		t.Fatalf("%v\n%+v", err, rep)
	}
	if !rep.Passed || len(rep.Results) != 3 {
		t.Fatalf("%+v", rep)
	}
	if !strings.Contains(rep.Results[2].Output, "checked "+srv.URL) {
		t.Errorf("command output %q", rep.Results[2].Output)
	}
	if rep.Results[0].Status != 200 || rep.Results[0].Target != "GET "+srv.URL+"/healthz" {
		t.Errorf("result %+v", rep.Results[0])
	}
}

func TestRunReportsEveryFailure(t *testing.T) {
	srv := newService(t)
	rep, err := Run(context.Background(), srv.Client(), srv.URL, []Test{
		{Name: "broken", HTTP: &HTTP{Path: "/broken"}},
		{Name: "unauth", HTTP: &HTTP{Method: "POST", Path: "/orders", ExpectStatus: 201}},
		{Name: "json", HTTP: &HTTP{Method: "POST", Path: "/orders", ExpectStatus: 201,
			Header: map[string]string{"X-Token": "t"},
			JSON:   map[string]any{"order.id": 8, "order.missing": 1}}},
		{Name: "text", HTTP: &HTTP{Path: "/healthz", BodyContains: "v3"}},
		{Name: "slow", HTTP: &HTTP{Path: "/slow"}, Timeout: 200 * time.Millisecond},
		{Name: "cmd", Command: "echo nope; exit 2"},
		{Name: "health", HTTP: &HTTP{Path: "/healthz"}},
	})
	if !errors.Is(err, ErrFailed) || rep.Passed {
		t.Fatalf("err = %v", err)
	}
	want := map[string]string{
		"broken": "status 500, want 200",
		"unauth": "status 401, want 201",
		"json":   "json order.id = 7, want 8; json order.missing: missing",
		"text":   `body does not contain "v3"`,
		"slow":   "deadline exceeded",
		"cmd":    "exit status 2",
	}
	for _, r := range rep.Results {
		if r.Name == "health" {
			if !r.Passed {
				t.Errorf("health failed: %+v", r)
			}
			continue
		}
		if r.Passed || !strings.Contains(r.Error, want[r.Name]) {
			t.Errorf("%s: passed=%v error %q, want %q", r.Name, r.Passed, r.Error, want[r.Name])
		}
	}
	if rep.Results[0].Output != "database down\n" || rep.Results[5].Output != "nope\n" {
		t.Errorf("evidence lost: %q %q", rep.Results[0].Output, rep.Results[5].Output)
	}
	if !strings.Contains(err.Error(), "broken: status 500") {
		t.Errorf("error %q does not list failures", err)
	}
}

func TestRunUnreachable(t *testing.T) {
	srv := newService(t)
	url := srv.URL
	srv.Close()
	rep, err := Run(context.Background(), nil, url, []Test{{Name: "h", Timeout: 500 * time.Millisecond, HTTP: &HTTP{Path: "/healthz"}}})
	if !errors.Is(err, ErrFailed) || !strings.Contains(rep.Results[0].Error, "connection refused (and no answer within 500ms, ") {
		t.Fatalf("err = %v, rep = %+v", err, rep)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		t    Test
		want string
	}{
		{Test{Name: "a"}, "set http or command"},
		{Test{Name: "b", Command: "true", HTTP: &HTTP{Path: "/"}}, "not both"},
		{Test{Name: "c", HTTP: &HTTP{Path: "healthz"}}, "must start with /"},
	} {
		err := tc.t.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.t.Name, err, tc.want)
		}
	}
}
