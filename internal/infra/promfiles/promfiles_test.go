package promfiles_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/infra/promfiles"
	"github.com/belay-dev/belay/internal/infra/provider"
	"github.com/belay-dev/belay/internal/infra/providertest"
	"github.com/belay-dev/belay/internal/slo"
	"github.com/belay-dev/belay/internal/testenv"
)

var obj = slo.Objective{Objective: 0.999, Window: 30 * 24 * time.Hour}

func newProvider(t *testing.T, dir, reload string) *promfiles.Provider {
	t.Helper()
	p, err := promfiles.New(dir, reload)
	if err != nil {
		t.Fatal(err)
	}
	p.Promtool = testenv.PromtoolBin(t)
	return p
}

func resources(t *testing.T, targets string) (scrape, rules provider.Resource) {
	t.Helper()
	sf, err := promfiles.Scrape("api", "staging", "15s", targets, "")
	if err != nil {
		t.Fatal(err)
	}
	rf, err := promfiles.Rules("api", "staging", obj)
	if err != nil {
		t.Fatal(err)
	}
	return provider.Resource{Kind: promfiles.KindScrape, Name: "api-staging", Spec: sf},
		provider.Resource{Kind: promfiles.KindRules, Name: "api-staging", Spec: rf}
}

// TestProvider runs the shared suite on files checked by the real promtool;
// the hand-made change is a line added to the scrape file, seen as its sha256.
func TestProvider(t *testing.T) {
	dir := t.TempDir()
	p := newProvider(t, dir, "")
	scrape, rules := resources(t, "sd:http://127.0.0.1:7070/v1/sd")
	scrape2, rules2 := scrape, rules
	var err error
	if scrape2.Spec, err = promfiles.Scrape("api", "staging", "30s", "sd:http://127.0.0.1:7070/v1/sd", "/etc/prometheus/agent.token"); err != nil {
		t.Fatal(err)
	}
	if rules2.Spec, err = promfiles.Rules("api", "staging", slo.Objective{Objective: 0.99, Window: 7 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	providertest.Run(t, p, providertest.Case{
		Resources: []provider.Resource{scrape, rules},
		Changed:   []provider.Resource{scrape2, rules2},
		Tamper: func(ctx context.Context, t *testing.T) (int, string) {
			f, err := os.OpenFile(p.Path(scrape), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteString("# edited by hand\n"); err != nil {
				t.Fatal(err)
			}
			return 0, "sha256"
		},
	})
}

// TestHandEditNamesTheField: an interval changed in the file is drift of
// interval (and of the file's hash); a rules file with a group removed is
// drift of groups.
func TestHandEditNamesTheField(t *testing.T) {
	dir := t.TempDir()
	p := newProvider(t, dir, "")
	scrape, rules := resources(t, "static:127.0.0.1:9100")
	for _, r := range []provider.Resource{scrape, rules} {
		if err := p.Create(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	edit := func(r provider.Resource, from, to string) []string {
		b, err := os.ReadFile(p.Path(r))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), from) {
			t.Fatalf("%s has no %q:\n%s", p.Path(r), from, b)
		}
		if err := os.WriteFile(p.Path(r), []byte(strings.Replace(string(b), from, to, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		o, err := p.Observe(t.Context(), r)
		if err != nil {
			t.Fatal(err)
		}
		var fields []string
		for _, d := range provider.Diff(r.Spec, o.Fields) {
			fields = append(fields, d.Field)
		}
		return fields
	}
	if got := edit(scrape, "scrape_interval: 15s", "scrape_interval: 1m"); !slices.Equal(got, []string{"interval", "sha256"}) {
		t.Errorf("interval edited by hand: drift of %v, want [interval sha256]", got)
	}
	if got := edit(rules, "name: belay-slo-api-staging", "name: mine"); !slices.Equal(got, []string{"groups", "sha256"}) {
		t.Errorf("group renamed by hand: drift of %v, want [groups sha256]", got)
	}
}

// TestPromtoolRefuses: a file promtool refuses (service discovery over ftp) is not written.
func TestPromtoolRefuses(t *testing.T) {
	dir := t.TempDir()
	p := newProvider(t, dir, "")
	bad, err := promfiles.Scrape("api", "staging", "15s", "sd:ftp://127.0.0.1/v1/sd", "")
	if err != nil {
		t.Fatal(err)
	}
	r := provider.Resource{Kind: promfiles.KindScrape, Name: "api-staging", Spec: bad}
	err = p.Create(t.Context(), r)
	if err == nil || !strings.Contains(err.Error(), "promtool check config refuses the file") {
		t.Fatalf("Create with an ftp service discovery URL: %v, want promtool's refusal", err)
	}
	if _, err := os.Stat(p.Path(r)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused file was written: %v", err)
	}
}

// TestReloadFailureIsClear: a Prometheus that cannot be reached is an
// error saying the files are written but not loaded.
func TestReloadFailureIsClear(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p := newProvider(t, t.TempDir(), "http://"+addr+"/-/reload")
	_, rules := resources(t, "static:127.0.0.1:9100")
	err = p.Create(t.Context(), rules)
	if !errors.Is(err, promfiles.ErrReload) || !strings.Contains(err.Error(), "could not be asked to reload") {
		t.Fatalf("reload of a closed port: %v", err)
	}
}

// TestReloadRefused: a Prometheus started without --web.enable-lifecycle
// refuses the reload; the error says so and how to start it.
func TestReloadRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real Prometheus")
	}
	bin := testenv.PrometheusBin(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte("global: {scrape_interval: 1s}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	url := startPrometheus(t, bin, filepath.Join(dir, "prometheus.yml"), filepath.Join(dir, "data"), "--log.level=warn")
	p := newProvider(t, t.TempDir(), url+"/-/reload")
	_, rules := resources(t, "static:127.0.0.1:9100")
	err := p.Create(t.Context(), rules)
	if !errors.Is(err, promfiles.ErrReload) || !strings.Contains(err.Error(), "403 Forbidden") || !strings.Contains(err.Error(), "start Prometheus with --web.enable-lifecycle") {
		t.Fatalf("reload refused: %v", err)
	}
	if _, err := os.Stat(p.Path(rules)); err != nil {
		t.Fatalf("the file is not written: %v", err)
	}
}

// TestLoadedByRealPrometheus: a real Prometheus including the directory
// loads the files after the provider's reload: /api/v1/rules lists the
// service's group and /api/v1/targets its scrape job, the agent's service
// discovery kept to the service and environment.
func TestLoadedByRealPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real Prometheus")
	}
	bin := testenv.PrometheusBin(t)
	dir := t.TempDir()
	filesDir := filepath.Join(dir, "belay")
	if err := os.Mkdir(filesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "up_test 1")
	}))
	t.Cleanup(exporter.Close)
	host := strings.TrimPrefix(exporter.URL, "http://")
	// The agent's /v1/sd answer (internal/agent/sd.go's shape) lists every
	// service and environment; the job keeps api in staging only.
	sd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json") // as the agent's writeJSON
		_ = json.NewEncoder(w).Encode([]map[string]any{
			{"targets": []string{host}, "labels": map[string]string{"service": "api", "environment": "staging", "version": "v1"}},
			{"targets": []string{"127.0.0.1:1"}, "labels": map[string]string{"service": "api", "environment": "production", "version": "v1"}},
			{"targets": []string{"127.0.0.1:2"}, "labels": map[string]string{"service": "web", "environment": "staging", "version": "v1"}},
		})
	}))
	t.Cleanup(sd.Close)
	// Prometheus 2.43 and later include the scrape files as an operator
	// would (scrape_config_files); an older one (Debian 12 ships 2.42) loads
	// the rules by rule_files, and the scrape file as the whole configuration
	// of a second Prometheus (its scrape_configs: is one).
	include := scrapeConfigFiles(t, bin)
	cfg := fmt.Sprintf("global: {scrape_interval: 1s, evaluation_interval: 1s}\nrule_files: ['%s/*.rules.yml']\n", filesDir)
	if include {
		cfg += fmt.Sprintf("scrape_config_files: ['%s/*.scrape.yml']\n", filesDir)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	url := startPrometheus(t, bin, filepath.Join(dir, "prometheus.yml"), filepath.Join(dir, "data"))
	p := newProvider(t, filesDir, url+"/-/reload")
	viaSD, rules := resources(t, "sd:"+sd.URL)
	for _, r := range []provider.Resource{viaSD, rules} {
		if err := p.Create(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	scrapeURL := url
	if !include {
		t.Logf("%s is older than 2.43: its scrape file is loaded by a Prometheus of its own", bin)
		scrapeURL = startPrometheus(t, bin, p.Path(viaSD), filepath.Join(dir, "data2"))
	}
	var groups struct {
		Data struct {
			Groups []struct {
				Name string `json:"name"`
				File string `json:"file"`
			} `json:"groups"`
		} `json:"data"`
	}
	getJSON(t, url+"/api/v1/rules", &groups)
	if len(groups.Data.Groups) != 1 || groups.Data.Groups[0].Name != "belay-slo-api-staging" {
		t.Fatalf("rules loaded after reload: %+v, want the group belay-slo-api-staging", groups.Data.Groups)
	}
	var targets struct {
		Data struct {
			Active []struct {
				Labels map[string]string `json:"labels"`
				Health string            `json:"health"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	// service discovery and the first scrape take a moment: wait for health up
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		getJSON(t, scrapeURL+"/api/v1/targets", &targets)
		if a := targets.Data.Active; len(a) == 1 && a[0].Health == "up" && a[0].Labels["job"] == "api-staging" &&
			a[0].Labels["service"] == "api" && a[0].Labels["environment"] == "staging" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("active targets %+v, want job api-staging's one target of the agent's three (api in staging), up", targets.Data.Active)
		}
	}
	// deleting a file unloads it at the next reload
	if err := p.Delete(t.Context(), rules); err != nil {
		t.Fatal(err)
	}
	getJSON(t, url+"/api/v1/rules", &groups)
	if len(groups.Data.Groups) != 0 {
		t.Fatalf("rules after delete: %+v", groups.Data.Groups)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
}

// startPrometheus starts bin with config and flags (default: the
// lifecycle API, for reloads), and waits until it is ready.
func startPrometheus(t *testing.T, bin, config, data string, flags ...string) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if flags == nil {
		flags = []string{"--web.enable-lifecycle"}
	}
	cmd := exec.Command(bin, append([]string{"--config.file=" + config, "--storage.tsdb.path=" + data,
		"--web.listen-address=" + addr}, flags...)...)
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(data, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("prometheus log:\n%s", b)
		}
	})
	url := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(url + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("prometheus not ready within 30 s")
		}
	}
}

// scrapeConfigFiles reports whether Prometheus bin (its --version) takes
// scrape_config_files: 2.43 and later.
func scrapeConfigFiles(t *testing.T, bin string) bool {
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v: %s", bin, err, out)
	}
	var major, minor int
	if _, err := fmt.Sscanf(strings.TrimPrefix(string(out), "prometheus, version "), "%d.%d", &major, &minor); err != nil {
		t.Logf("%s has no version (built from source without one): taken as current", bin)
		return true
	}
	return major > 2 || major == 2 && minor >= 43
}
