package server

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/store"
)

// TestSLOAPI: GET /api/v1/slo reads the builtin samples in the real store:
// production burns fast (page), staging is quiet (ok); a viewer may read
// it, an unknown environment is refused, an anonymous caller too.
func TestSLOAPI(t *testing.T) {
	r := newAuthRig(t)
	file := r.srv.d.ProjectFile
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	withSLO := strings.Replace(string(b), "    environments:\n", "    slo: {objective: 99%, window: 28d}\n    environments:\n", 1)
	if err := os.WriteFile(file, []byte(withSLO), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := range 10 {
		at := now.Add(-time.Duration(i) * time.Minute)
		for _, s := range []store.SLOSample{
			{Environment: "production", Service: "hello", At: at, Requests: 100, Errors: 40},
			{Environment: "staging", Service: "hello", At: at, Requests: 1000, Errors: 1},
		} {
			if err := r.st.AddSLOSample(context.Background(), s); err != nil {
				t.Fatal(err)
			}
		}
	}
	viewer := r.token("reader", "viewer", "staging")
	code, body := r.call(viewer, "GET", "/api/v1/slo", nil)
	var rep api.SLOReport
	if code != 200 || json.Unmarshal([]byte(body), &rep) != nil || len(rep.SLOs) != 2 {
		t.Fatalf("GET /api/v1/slo: %d %s", code, body)
	}
	prod, stg := rep.SLOs[0], rep.SLOs[1]
	if prod.Environment != "production" || prod.Status != "page" || prod.Objective != "99%" || prod.Window != "28d" || prod.Source != "builtin" ||
		prod.Requests != 1000 || prod.Errors != 400 || len(prod.Pairs) != 4 || !prod.Pairs[0].Firing || prod.Pairs[0].Factor != 13.44 {
		t.Errorf("production: %+v", prod)
	}
	// 40 % errors against a 1 % budget: burn 40, 39 budgets over
	if *prod.BudgetLeft > -38.99 || *prod.BudgetLeft < -39.01 || *prod.Pairs[0].LongBurn < 39.99 || *prod.Pairs[0].LongBurn > 40.01 {
		t.Errorf("production budget left %v, 1h burn %v; want -39 and 40", *prod.BudgetLeft, *prod.Pairs[0].LongBurn)
	}
	if stg.Environment != "staging" || stg.Status != "ok" || *stg.BudgetLeft < 0.899 || *stg.BudgetLeft > 0.901 {
		t.Errorf("staging: %+v (budget left %v, want 0.9)", stg, *stg.BudgetLeft)
	}
	code, body = r.call(viewer, "GET", "/api/v1/slo?environment=staging", nil)
	if code != 200 || strings.Contains(body, `"production"`) {
		t.Errorf("one environment: %d %s", code, body)
	}
	if code, body = r.call(viewer, "GET", "/api/v1/slo?environment=prod", nil); code != 422 || !strings.Contains(body, `environment "prod" is not defined`) {
		t.Errorf("unknown environment: %d %s", code, body)
	}
	if code, _ = r.call("", "GET", "/api/v1/slo", nil); code != 401 {
		t.Errorf("anonymous: %d, want 401", code)
	}
}
