package slo

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Service is one service's objective, for the rules.
type Service struct {
	Name      string
	Objective Objective
	// Environment, when set, confines the rules to that environment (the
	// group is then belay-slo-<service>-<environment>): one file per
	// service and environment, as the monitoring component writes them.
	Environment string
}

// Recording-rule names, Sloth-style: level:metric:operations. Each series
// keeps the labels service and environment.
const (
	errorRatioRule = "belay_slo:sli_error:ratio_rate"
	burnRateRule   = "belay_slo:burn_rate:rate"
)

// ErrorRatioRule and BurnRateRule name the recorded series of a window.
func ErrorRatioRule(w time.Duration) string { return errorRatioRule + FormatWindow(w) }

// BurnRateRule is the recorded error ratio ÷ (1 − objective) over w.
func BurnRateRule(w time.Duration) string { return burnRateRule + FormatWindow(w) }

type ruleFile struct {
	Groups []ruleGroup `yaml:"groups"`
}

type ruleGroup struct {
	Name  string `yaml:"name"`
	Rules []rule `yaml:"rules"`
}

type rule struct {
	Record      string            `yaml:"record,omitempty"`
	Alert       string            `yaml:"alert,omitempty"`
	Expr        string            `yaml:"expr"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// Rules writes Prometheus recording and alerting rules for each service:
// the error ratio and burn rate over every window the pairs and the SLO
// window need, per service and environment, from the agent's counters;
// then one page and one ticket alert ORing their pairs, each pair firing
// when both its windows burn faster than its factor. The alerts carry no
// `for`: the short window is what keeps a brief spike from alerting and
// lets an alert reset soon after the burn stops (SRE workbook, ch. 5).
func Rules(services []Service, pairs []Pair) ([]byte, error) {
	var f ruleFile
	for _, s := range services {
		f.Groups = append(f.Groups, group(s, pairs))
	}
	b, err := yaml.Marshal(f)
	if err != nil {
		return nil, err
	}
	head := "# Prometheus rules for belay's SLOs, written by `belay slo rules` from belay.yaml.\n" +
		"# Load them with rule_files: in prometheus.yml; see docs/slo.md.\n"
	return append([]byte(head), b...), nil
}

func group(s Service, pairs []Pair) ruleGroup {
	g := ruleGroup{Name: GroupName(s)}
	sel := "service=" + strconv.Quote(s.Name)
	if s.Environment != "" {
		sel += ",environment=" + strconv.Quote(s.Environment)
	}
	budget := strconv.FormatFloat(s.Objective.Budget(), 'g', 12, 64)
	by := "sum by (service, environment) "
	for _, w := range s.Objective.Windows(pairs) {
		rate := func(metric string) string {
			return fmt.Sprintf("%s(rate(%s{%s}[%s]))", by, metric, sel, FormatWindow(w))
		}
		labels := map[string]string{"slo": "availability", "objective": s.Objective.percent()}
		// A version without an error series has none: count it as 0 errors.
		expr := fmt.Sprintf("(%s or %s * 0) / %s", rate(ErrorsMetric), rate(RequestsMetric), rate(RequestsMetric))
		g.Rules = append(g.Rules,
			rule{Record: ErrorRatioRule(w), Expr: expr, Labels: labels},
			rule{Record: BurnRateRule(w), Expr: fmt.Sprintf("%s{%s} / %s", ErrorRatioRule(w), sel, budget), Labels: labels})
	}
	for _, sev := range []Severity{Page, Ticket} {
		var terms []string
		var desc []string
		for _, p := range pairs {
			if p.Severity != sev {
				continue
			}
			f := strconv.FormatFloat(p.Factor(s.Objective.Window), 'g', 12, 64)
			terms = append(terms, fmt.Sprintf("(%s{%s} > %s and %s{%s} > %s)", BurnRateRule(p.Long), sel, f, BurnRateRule(p.Short), sel, f))
			desc = append(desc, fmt.Sprintf("%s and %s above %s", FormatWindow(p.Long), FormatWindow(p.Short), f))
		}
		if len(terms) == 0 {
			continue
		}
		g.Rules = append(g.Rules, rule{
			Alert:  "BelaySLOBurn" + strings.ToUpper(string(sev[:1])) + string(sev[1:]),
			Expr:   strings.Join(terms, " or "),
			Labels: map[string]string{"severity": string(sev), "slo": "availability", "service": s.Name},
			Annotations: map[string]string{
				"summary": fmt.Sprintf("{{ $labels.service }} in {{ $labels.environment }} is burning its %s error budget (%s objective over %s)",
					"availability", s.Objective.percent(), FormatWindow(s.Objective.Window)),
				"description": "burn rate " + strings.Join(desc, ", or ") + "; see belay slo --env {{ $labels.environment }}",
			},
		})
	}
	return g
}

// GroupName is the rule group Rules writes for s.
func GroupName(s Service) string {
	if s.Environment != "" {
		return "belay-slo-" + s.Name + "-" + s.Environment
	}
	return "belay-slo-" + s.Name
}

func (o Objective) percent() string {
	return strconv.FormatFloat(o.Objective*100, 'g', 10, 64) + "%"
}
