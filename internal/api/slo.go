package api

// SLOReport answers GET /api/v1/slo: the SLO of every service that
// declares one, in each environment (or the one asked for).
type SLOReport struct {
	SLOs []SLOStatus `json:"slos"`
}

// SLOStatus is one service's SLO in one environment. Fractions are 0..1;
// a figure that could not be measured (no requests, no data) is null.
type SLOStatus struct {
	Service     string `json:"service"`
	Environment string `json:"environment"`
	Objective   string `json:"objective"` // "99.9%"
	Window      string `json:"window"`    // "30d"
	Source      string `json:"source"`    // builtin or prometheus
	// Status is ok, ticket, page or no_data.
	Status         string    `json:"status"`
	Requests       float64   `json:"requests"` // over the window
	Errors         float64   `json:"errors"`
	BudgetConsumed *float64  `json:"budget_consumed"`
	BudgetLeft     *float64  `json:"budget_left"` // below 0 once the objective is missed
	Pairs          []SLOPair `json:"pairs"`
	// Error says why there is no data, when the source could not answer.
	Error string `json:"error,omitempty"`
}

// SLOPair is one multi-window burn-rate alert's state.
type SLOPair struct {
	Severity  string   `json:"severity"` // page or ticket
	Long      string   `json:"long"`     // "1h"
	Short     string   `json:"short"`    // "5m"
	Factor    float64  `json:"factor"`   // burn rate both windows must exceed
	LongBurn  *float64 `json:"long_burn"`
	ShortBurn *float64 `json:"short_burn"`
	Firing    bool     `json:"firing"`
	NoData    bool     `json:"no_data,omitempty"`
}
