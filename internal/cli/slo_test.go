package cli

import (
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/api"
)

func TestPrintSLO(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	rep := api.SLOReport{SLOs: []api.SLOStatus{
		{Service: "api", Environment: "production", Objective: "99.9%", Window: "30d", Status: "page", BudgetLeft: f(-0.25), Pairs: []api.SLOPair{
			{Severity: "page", Long: "1h", Short: "5m", Factor: 14.4, LongBurn: f(20), ShortBurn: f(31.5), Firing: true},
			{Severity: "page", Long: "6h", Short: "30m", Factor: 6, LongBurn: f(4), ShortBurn: f(20)}}},
		{Service: "web", Environment: "staging", Objective: "99%", Window: "7d", Status: "no_data", Error: "prometheus at http://x: down"},
		{Service: "web", Environment: "production", Objective: "99%", Window: "7d", Status: "ok", Pairs: []api.SLOPair{
			{Severity: "page", Long: "1h", Short: "5m", Factor: 3.36}}},
	}}
	var b strings.Builder
	if err := printSLO(&b, rep); err != nil {
		t.Fatal(err)
	}
	want := `SERVICE  ENVIRONMENT  OBJECTIVE  WINDOW  BUDGET LEFT  1H/5M         6H/30M      STATUS
api      production   99.9%      30d     -25.0%       20.00/31.50*  4.00/20.00  page
web      staging      99%        7d      no data      -             -           no_data
web      production   99%        7d      no data      -/-           -           ok
burn rates long/short window, * fires (for a 30d window: 1h/5m page above 14.4, 6h/30m page above 6)
burn rates long/short window, * fires (for a 7d window: 1h/5m page above 3.36)
no data: web in staging: prometheus at http://x: down
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
