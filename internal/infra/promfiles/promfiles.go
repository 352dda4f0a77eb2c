// Package promfiles is the infrastructure provider for the monitoring
// component: per service and environment, a Prometheus scrape
// configuration file and the service's SLO rules file, in a directory a
// Prometheus includes (scrape_config_files: [DIR/*.scrape.yml], rule_files:
// [DIR/*.rules.yml]). Files are checked with promtool when it is on the
// PATH, written atomically, and the Prometheus is asked to reload when its
// reload URL is given. Observe reads the files only.
package promfiles

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/belay-dev/belay/internal/atomicfile"
	"github.com/belay-dev/belay/internal/infra/provider"
	"github.com/belay-dev/belay/internal/slo"
)

// Kinds.
const (
	// KindScrape: a scrape configuration file DIR/NAME.scrape.yml holding
	// one job; fields job, service, environment, interval, targets
	// ("sd:URL" — the agent's Prometheus HTTP service discovery, kept to
	// the service's instances in the environment — or "static:HOST:PORT,…"),
	// credentials_file (the bearer token file for sd, when set) and sha256
	// (of the whole file, so any other edit is drift too).
	KindScrape = "prometheus_scrape"
	// KindRules: the service's SLO rules in one environment, as `belay slo
	// rules` writes them but confined to the environment,
	// DIR/NAME.rules.yml; fields service, environment, objective (0.999),
	// window (30d), groups (the rule groups' names) and sha256.
	KindRules = "prometheus_rules"
)

// ErrReload is a file written that the Prometheus did not load.
var ErrReload = errors.New("prometheus reload")

// Provider writes the files of one monitoring component.
type Provider struct {
	Dir string
	// ReloadURL, when set, is POSTed after each change (Prometheus's
	// /-/reload, which needs --web.enable-lifecycle).
	ReloadURL string
	// Promtool checks files before they are written; "" skips the check.
	Promtool string
	Client   *http.Client
}

var _ provider.Provider = (*Provider)(nil)

// New returns a provider for dir, which must exist; promtool is looked up
// on the PATH.
func New(dir, reloadURL string) (*Provider, error) {
	if dir == "" {
		return nil, fmt.Errorf("promfiles: no directory: set the monitoring component's dir parameter")
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("promfiles: dir %s is not a directory: create it and include it in prometheus.yml (scrape_config_files: [%s/*.scrape.yml], rule_files: [%s/*.rules.yml])", dir, dir, dir)
	}
	if reloadURL != "" && !strings.HasPrefix(reloadURL, "http://") && !strings.HasPrefix(reloadURL, "https://") {
		return nil, fmt.Errorf("promfiles: reload_url %q is not an http(s) URL (e.g. http://127.0.0.1:9090/-/reload)", reloadURL)
	}
	tool, _ := exec.LookPath("promtool")
	return &Provider{Dir: dir, ReloadURL: reloadURL, Promtool: tool, Client: &http.Client{Timeout: 30 * time.Second}}, nil
}

// Kinds are scrape and rules.
func (p *Provider) Kinds() []string { return []string{KindScrape, KindRules} }

// Close does nothing: there are no connections.
func (p *Provider) Close() error { return nil }

// Path is where r's file is.
func (p *Provider) Path(r provider.Resource) string {
	ext := ".scrape.yml"
	if r.Kind == KindRules {
		ext = ".rules.yml"
	}
	return filepath.Join(p.Dir, r.Name+ext)
}

// Scrape is the spec of the scrape file of service in env, with its hash.
func Scrape(service, env, interval, targets, credentialsFile string) (provider.Fields, error) {
	f := provider.Fields{"job": service + "-" + env, "service": service, "environment": env, "interval": interval, "targets": targets}
	if credentialsFile != "" {
		f["credentials_file"] = credentialsFile
	}
	b, err := render(provider.Resource{Kind: KindScrape, Spec: f})
	if err != nil {
		return nil, err
	}
	f["sha256"] = sum(b)
	return f, nil
}

// Rules is the spec of the rules file of service in env, with its hash.
func Rules(service, env string, o slo.Objective) (provider.Fields, error) {
	s := slo.Service{Name: service, Environment: env, Objective: o}
	f := provider.Fields{"service": service, "environment": env, "objective": strconv.FormatFloat(o.Objective, 'g', -1, 64),
		"window": slo.FormatWindow(o.Window), "groups": slo.GroupName(s)}
	b, err := render(provider.Resource{Kind: KindRules, Spec: f})
	if err != nil {
		return nil, err
	}
	f["sha256"] = sum(b)
	return f, nil
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// The scrape file, as Prometheus reads it (scrape_config_files).
type scrapeFile struct {
	ScrapeConfigs []scrapeConfig `yaml:"scrape_configs"`
}

type scrapeConfig struct {
	JobName        string         `yaml:"job_name"`
	ScrapeInterval string         `yaml:"scrape_interval,omitempty"`
	HTTPSD         []httpSD       `yaml:"http_sd_configs,omitempty"`
	Static         []staticConfig `yaml:"static_configs,omitempty"`
	Relabel        []relabel      `yaml:"relabel_configs,omitempty"`
}

type httpSD struct {
	URL           string         `yaml:"url"`
	Authorization *authorization `yaml:"authorization,omitempty"`
}

type authorization struct {
	Type            string `yaml:"type"`
	CredentialsFile string `yaml:"credentials_file"`
}

type staticConfig struct {
	Targets []string          `yaml:"targets"`
	Labels  map[string]string `yaml:"labels,omitempty"`
}

type relabel struct {
	SourceLabels []string `yaml:"source_labels"`
	Regex        string   `yaml:"regex"`
	Action       string   `yaml:"action"`
}

// header marks the rules file with what it was rendered from.
const rulesHeader = "# belay: "

// render is the file r's spec makes.
func render(r provider.Resource) ([]byte, error) {
	f := r.Spec
	if r.Name == "" { // a spec being made
		r.Name = f["service"] + "-" + f["environment"]
	}
	switch r.Kind {
	case KindScrape:
		if _, err := model.ParseDuration(f["interval"]); err != nil {
			return nil, fmt.Errorf("promfiles: %s: interval %q is not a Prometheus duration (15s, 1m)", r.Name, f["interval"])
		}
		sc := scrapeConfig{JobName: f["job"], ScrapeInterval: f["interval"]}
		src, rest, _ := strings.Cut(f["targets"], ":")
		switch src {
		case "sd":
			sd := httpSD{URL: rest}
			if cf := f["credentials_file"]; cf != "" {
				sd.Authorization = &authorization{Type: "Bearer", CredentialsFile: cf}
			}
			sc.HTTPSD = []httpSD{sd}
			// the agent lists every service and environment: keep this one's
			sc.Relabel = []relabel{{SourceLabels: []string{"service", "environment"}, Regex: f["service"] + ";" + f["environment"], Action: "keep"}}
		case "static":
			sc.Static = []staticConfig{{Targets: strings.Split(rest, ","), Labels: map[string]string{"service": f["service"], "environment": f["environment"]}}}
		default:
			return nil, fmt.Errorf("promfiles: %s: targets %q is neither sd:URL nor static:HOST:PORT,…", r.Name, f["targets"])
		}
		b, err := yaml.Marshal(scrapeFile{ScrapeConfigs: []scrapeConfig{sc}})
		if err != nil {
			return nil, err
		}
		return append([]byte("# Written by belay (monitoring component); edits are reported as drift.\n"), b...), nil
	case KindRules:
		obj, err := strconv.ParseFloat(f["objective"], 64)
		if err != nil || obj <= 0 || obj >= 1 {
			return nil, fmt.Errorf("promfiles: %s: objective %q is not between 0 and 1", r.Name, f["objective"])
		}
		w, err := model.ParseDuration(f["window"])
		if err != nil {
			return nil, fmt.Errorf("promfiles: %s: window %q is not a duration (30d)", r.Name, f["window"])
		}
		b, err := slo.Rules([]slo.Service{{Name: f["service"], Environment: f["environment"], Objective: slo.Objective{Objective: obj, Window: time.Duration(w)}}}, slo.Pairs)
		if err != nil {
			return nil, err
		}
		head, _ := json.Marshal(map[string]string{"service": f["service"], "environment": f["environment"], "objective": f["objective"], "window": f["window"]})
		return append([]byte(rulesHeader+string(head)+"\n"), b...), nil
	}
	return nil, fmt.Errorf("promfiles: unknown kind %q", r.Kind)
}

// Observe reads r's file; it never changes anything.
func (p *Provider) Observe(_ context.Context, r provider.Resource) (provider.Observation, error) {
	if r.Kind != KindScrape && r.Kind != KindRules {
		return provider.Observation{}, fmt.Errorf("promfiles: unknown kind %q", r.Kind)
	}
	b, err := os.ReadFile(p.Path(r))
	if errors.Is(err, fs.ErrNotExist) {
		return provider.Observation{}, nil
	}
	if err != nil {
		return provider.Observation{}, fmt.Errorf("promfiles: observe %s: %w", r.ID(), err)
	}
	f := provider.Fields{"sha256": sum(b)}
	if r.Kind == KindScrape {
		observeScrape(b, f)
	} else {
		observeRules(b, f)
	}
	return provider.Observation{Exists: true, Fields: f}, nil
}

// observeScrape reads the meaningful fields back; a file edited out of
// shape reports what it can (and its hash differs anyway).
func observeScrape(b []byte, f provider.Fields) {
	var sf scrapeFile
	if err := yaml.Unmarshal(b, &sf); err != nil || len(sf.ScrapeConfigs) != 1 {
		f["job"] = fmt.Sprintf("(%d jobs or unreadable)", len(sf.ScrapeConfigs))
		return
	}
	sc := sf.ScrapeConfigs[0]
	f["job"], f["interval"] = sc.JobName, sc.ScrapeInterval
	switch {
	case len(sc.HTTPSD) == 1 && len(sc.Static) == 0:
		f["targets"] = "sd:" + sc.HTTPSD[0].URL
		if a := sc.HTTPSD[0].Authorization; a != nil {
			f["credentials_file"] = a.CredentialsFile
		}
		if len(sc.Relabel) > 0 {
			f["service"], f["environment"], _ = strings.Cut(sc.Relabel[0].Regex, ";")
		}
	case len(sc.Static) == 1 && len(sc.HTTPSD) == 0:
		f["targets"] = "static:" + strings.Join(sc.Static[0].Targets, ",")
		f["service"], f["environment"] = sc.Static[0].Labels["service"], sc.Static[0].Labels["environment"]
	default:
		f["targets"] = "(other)"
	}
}

func observeRules(b []byte, f provider.Fields) {
	first, _, _ := bytes.Cut(b, []byte("\n"))
	var head map[string]string
	if rest, ok := bytes.CutPrefix(first, []byte(rulesHeader)); ok && json.Unmarshal(rest, &head) == nil {
		for _, k := range []string{"service", "environment", "objective", "window"} {
			f[k] = head[k]
		}
	}
	var rf struct {
		Groups []struct {
			Name string `yaml:"name"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &rf); err != nil {
		f["groups"] = "(unreadable)"
		return
	}
	var names []string
	for _, g := range rf.Groups {
		names = append(names, g.Name)
	}
	f["groups"] = strings.Join(names, ",")
}

// Create writes r's file (also when it exists) and reloads.
func (p *Provider) Create(ctx context.Context, r provider.Resource) error { return p.write(ctx, r) }

// Update writes r's file and reloads.
func (p *Provider) Update(ctx context.Context, r provider.Resource) error { return p.write(ctx, r) }

func (p *Provider) write(ctx context.Context, r provider.Resource) error {
	b, err := render(r)
	if err != nil {
		return err
	}
	if want := r.Spec["sha256"]; want != "" && want != sum(b) {
		return fmt.Errorf("promfiles: %s: the spec's sha256 is not the file its fields make (made by another belay version?): plan again", r.ID())
	}
	if err := p.check(ctx, r, b); err != nil {
		return err
	}
	if err := atomicfile.Write(p.Path(r), b, 0o644); err != nil {
		return fmt.Errorf("promfiles: %w", err)
	}
	return p.reload(ctx)
}

// check runs promtool on b before it replaces anything.
func (p *Provider) check(ctx context.Context, r provider.Resource, b []byte) error {
	if p.Promtool == "" {
		return nil
	}
	dir, err := os.MkdirTemp("", "belay-promtool-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, filepath.Base(p.Path(r)))
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return err
	}
	args := []string{"check", "rules", file}
	if r.Kind == KindScrape {
		// The scrape file's scrape_configs: is also a whole prometheus.yml,
		// which promtool of any version checks (scrape_config_files is 2.43+).
		// --syntax-only: the agent's token file may be readable by Prometheus only.
		args = []string{"check", "config", "--syntax-only", file}
	}
	out, err := exec.CommandContext(ctx, p.Promtool, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("promfiles: %s: promtool %s refuses the file, which was not written: %s", r.ID(), strings.Join(args[:2], " "), strings.TrimSpace(string(out)))
	}
	return nil
}

// reload asks the Prometheus to read its files again.
func (p *Provider) reload(ctx context.Context) error {
	if p.ReloadURL == "" {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.ReloadURL, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrReload, err)
	}
	resp, err := p.Client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: the files are written, but Prometheus at %s could not be asked to reload: %v", ErrReload, p.ReloadURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		hint := ""
		if resp.StatusCode == http.StatusForbidden {
			hint = " (start Prometheus with --web.enable-lifecycle)"
		}
		return fmt.Errorf("%w: the files are written, but Prometheus at %s answered %s to the reload%s: %s", ErrReload, p.ReloadURL, resp.Status, hint, strings.TrimSpace(string(body)))
	}
	return nil
}

// Delete removes r's file and reloads; a missing file is not an error.
func (p *Provider) Delete(ctx context.Context, r provider.Resource) error {
	err := os.Remove(p.Path(r))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("promfiles: delete %s: %w", r.ID(), err)
	}
	return p.reload(ctx)
}
