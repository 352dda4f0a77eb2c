package infra_test

import (
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/infra"
	"github.com/belay-dev/belay/internal/spec"
)

func logProject(t *testing.T, kind, staging string, stagingExtra ...string) *spec.Project {
	t.Helper()
	y := `service_stack: {app_service: enabled, log_forwarding: ` + kind + `}
services:
  api:
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger:
      - error_rate > 1% for 5m
    rollback_action: deploy previous_stable
    analysis: {source: prometheus, prometheus: {url: "http://127.0.0.1:9090"}}
environments:
  - name: staging
` + strings.Join(stagingExtra, "") + `    stack:
      log_forwarding: ` + staging + `
  - name: production
`
	p, err := spec.ParseProject("belay.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// log_forwarding is the agent's: StackOf checks it and plans nothing for
// it; LogForwardingOf is what the orchestrator hands the target.
func TestLogForwardingStack(t *testing.T) {
	for _, kind := range []string{"http", "enabled"} {
		p := logProject(t, kind, `{url: "https://logs.example/ingest", token_secret: LOGS_TOKEN}`)
		st, err := infra.StackOf(p, "staging", func(string, []string) (map[string]string, error) { return nil, nil })
		if err != nil || len(st.Resources) != 0 || len(st.Servers) != 0 {
			t.Fatalf("%s: stack %+v, %v; want nothing to plan", kind, st, err)
		}
		lf, err := infra.LogForwardingOf(p, "staging")
		if err != nil || lf == nil || *lf != (infra.LogForwarding{URL: "https://logs.example/ingest", TokenSecret: "LOGS_TOKEN"}) {
			t.Fatalf("%s: log forwarding %+v, %v", kind, lf, err)
		}
		// production gives it no parameters: descriptive, nothing shipped
		if lf, err := infra.LogForwardingOf(p, "production"); lf != nil || err != nil {
			t.Errorf("production: %+v, %v; want none", lf, err)
		}
	}
	p := logProject(t, "http", `{url: "https://logs.example/ingest", enabled: "false"}`)
	if lf, err := infra.LogForwardingOf(p, "staging"); lf != nil || err != nil {
		t.Errorf("disabled: %+v, %v; want none", lf, err)
	}
	p = logProject(t, "http", `{url: "http://127.0.0.1:9999/x", token_secret: LOGS_TOKEN}`)
	if _, err := infra.LogForwardingOf(p, "staging"); err != nil {
		t.Errorf("a token over http to this host: %v", err)
	}
}

func TestLogForwardingStackErrors(t *testing.T) {
	for _, c := range []struct{ kind, params, want, extra string }{
		{"http", `{token_secret: LOGS_TOKEN}`, `belay.yaml:14:7: environments[0].stack.log_forwarding.url: missing: name the endpoint`, ""},
		{"http", `{url: "ftp://logs.example/x"}`, `environments[0].stack.log_forwarding.url: "ftp://logs.example/x" is not an http:// or https:// URL`, ""},
		{"http", `{url: "logs.example/x"}`, `"logs.example/x" is not an http:// or https:// URL`, ""},
		{"http", `{url: "https://logs.example/x", batch: "10"}`, `environments[0].stack.log_forwarding.batch: not a parameter of log_forwarding http; its parameters: url, token_secret, enabled`, ""},
		{"http", `{url: "http://logs.example/x", token_secret: LOGS_TOKEN}`, `the token (LOGS_TOKEN) would travel in clear: use https`, ""},
		{"http", `{url: "https://ingest:pa55word@logs.example/x"}`, `environments[0].stack.log_forwarding.url: "https://logs.example/x" holds a user and password before the host: leave them out, put the credential in a secret and name it in token_secret`, ""},
		{"syslog", `{url: "https://logs.example/x"}`, `service_stack.log_forwarding: "syslog" is not provisioned by belay yet`, ""},
		{"http", `{url: "https://logs.example/x"}`, `staging runs on Kubernetes, where belay's agent does not run to ship logs`,
			"    target: kubernetes\n    kubernetes: {namespace: shop, registry: registry.example/shop, kubeconfig: kubeconfig}\n"},
	} {
		p := logProject(t, c.kind, c.params, c.extra)
		_, err := infra.LogForwardingOf(p, "staging")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: LogForwardingOf: %v, want %q", c.params, err, c.want)
		}
		_, err = infra.StackOf(p, "staging", func(string, []string) (map[string]string, error) { return nil, nil })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: StackOf: %v, want %q", c.params, err, c.want)
		}
		if errs := infra.CheckStacks(p); len(errs) != 1 || !strings.Contains(errs.Error(), c.want) {
			t.Errorf("%s: CheckStacks: %v, want %q", c.params, errs, c.want)
		}
	}
}
