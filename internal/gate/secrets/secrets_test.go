package secrets_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/gate/secrets"
	"github.com/belay-dev/belay/internal/gate/secrets/secretstest"
	"github.com/zricethezav/gitleaks/v8/detect"
)

// The fake secrets are ones gitleaks' default rules flag.
func TestFakeSecretsAreFlagged(t *testing.T) {
	d, err := detect.NewDetectorDefaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	for rule, s := range map[string]string{
		"github-pat":       "token: " + secretstest.GitHubToken(1),
		"aws-access-token": "key = " + secretstest.AWSKey(1),
		"private-key":      secretstest.PrivateKey(1),
	} {
		fs := d.DetectString(s)
		if len(fs) != 1 || fs[0].RuleID != rule {
			t.Errorf("%s: findings %v", rule, fs)
		}
	}
}

// repo is a git repository with planted secrets, commit by commit.
type repo struct {
	t       *testing.T
	dir     string
	commits []string
}

func newRepo(t *testing.T) *repo {
	r := &repo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *repo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", r.dir, "-c", "user.name=Ada Lovelace", "-c", "user.email=ada@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *repo) write(name, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *repo) commit(msg string) string {
	r.git("add", "-A")
	r.git("commit", "-q", "-m", msg)
	sha := r.git("rev-parse", "HEAD")
	r.commits = append(r.commits, sha)
	return sha
}

var (
	ghToken  = secretstest.GitHubToken(7)
	ghToken2 = secretstest.GitHubToken(8)
	fixture  = secretstest.GitHubToken(9)
	awsKey   = secretstest.AWSKey(7)
	pemKey   = secretstest.PrivateKey(7)
	custom   = "belaytok_" + "k3v9q2m8x7w1z5r4t6y0"
	raw      = []string{ghToken, ghToken2, fixture, awsKey, pemKey[40:100], custom}
)

// planted: commit 1 plants a GitHub token, an AWS key, a private key, a
// token under an allowlisted path and one for the project's own rule;
// commit 2 removes the AWS key; commit 3 adds a second GitHub token.
func planted(t *testing.T) *repo {
	r := newRepo(t)
	r.write(".gitleaks.toml", `title = "project"
[[rules]]
id = "belay-test-token"
description = "A belay test token"
regex = '''belaytok_[a-z0-9]{20}'''
keywords = ["belaytok_"]

[[allowlists]]
description = "test fixtures"
paths = ['''^fixtures/''']
`)
	r.write("README.md", "# app\n")
	r.write("config/app.env", "NAME=app\nGITHUB_TOKEN="+ghToken+"\n")
	r.write("deploy/aws.ini", "[default]\nregion = eu-west-1\naws_access_key_id = "+awsKey+"\n")
	r.write("keys/id_rsa", pemKey)
	r.write("fixtures/sample.env", "GITHUB_TOKEN="+fixture+"\n")
	r.write("src/custom.txt", "x\ny\nauth "+custom+"\n")
	r.commit("plant secrets")
	r.write("deploy/aws.ini", "[default]\nregion = eu-west-1\n")
	r.commit("remove the AWS key")
	r.write("src/new.go", "package main\n\n// oops\nconst token = \""+ghToken2+"\"\n")
	r.commit("add a client")
	return r
}

type place struct {
	file, rule string
	line       int
	commit     string
}

func places(fs []secrets.Finding) []place {
	var ps []place
	for _, f := range fs {
		ps = append(ps, place{f.File, f.Rule, f.Line, f.Commit})
	}
	return ps
}

func scan(t *testing.T, opt secrets.Options) secrets.Report {
	t.Helper()
	rep, err := secrets.Scan(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	assertRedacted(t, rep)
	return rep
}

func assertRedacted(t *testing.T, rep secrets.Report) {
	t.Helper()
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(rep); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteBaseline(&b); err != nil {
		t.Fatal(err)
	}
	for _, s := range raw {
		if strings.Contains(b.String(), s) {
			t.Fatalf("the report holds the secret %.8s…:\n%s", s, b.String())
		}
	}
}

func equal(t *testing.T, got, want []place) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("findings\n got %v\nwant %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("finding %d\n got %v\nwant %v", i, got[i], want[i])
		}
	}
}

// The whole history keeps the removed AWS key; the allowlisted fixture is
// not reported; the project's rule works beside the default rules.
func TestScanHistory(t *testing.T) {
	r := planted(t)
	rep := scan(t, secrets.Options{Path: r.dir, Mode: secrets.History})
	c1, c3 := r.commits[0], r.commits[2]
	equal(t, places(rep.Findings), []place{
		{"config/app.env", "github-pat", 2, c1},
		{"deploy/aws.ini", "aws-access-token", 3, c1},
		{"keys/id_rsa", "private-key", 1, c1},
		{"src/custom.txt", "belay-test-token", 3, c1},
		{"src/new.go", "github-pat", 4, c3},
	})
	f := rep.Findings[0]
	if f.Secret != "ghp_***" || f.Column != 14 || f.EndColumn != 53 || f.Author != "Ada Lovelace" || f.Date == "" ||
		f.Fingerprint != c1+":config/app.env:github-pat:2" {
		t.Errorf("finding %+v", f)
	}
	if rep.Commits != 3 || rep.Config != filepath.Join(r.dir, ".gitleaks.toml") || rep.Rules < 200 || !rep.Blocks() {
		t.Errorf("report %+v", rep)
	}
}

// --since: only what the commits after the revision add.
func TestScanSince(t *testing.T) {
	r := planted(t)
	rep := scan(t, secrets.Options{Path: r.dir, Mode: secrets.History, Since: r.commits[1]})
	equal(t, places(rep.Findings), []place{{"src/new.go", "github-pat", 4, r.commits[2]}})
	rep = scan(t, secrets.Options{Path: r.dir, Mode: secrets.History, Since: "HEAD"})
	if rep.Blocks() {
		t.Errorf("nothing since HEAD, found %v", places(rep.Findings))
	}
}

// The tree as it is: the AWS key is gone from it.
func TestScanTree(t *testing.T) {
	r := planted(t)
	rep := scan(t, secrets.Options{Path: r.dir, Mode: secrets.Tree})
	equal(t, places(rep.Findings), []place{
		{"config/app.env", "github-pat", 2, ""},
		{"keys/id_rsa", "private-key", 1, ""},
		{"src/custom.txt", "belay-test-token", 3, ""},
		{"src/new.go", "github-pat", 4, ""},
	})
	if f := rep.Findings[0]; f.Column != 14 || f.EndColumn != 53 {
		t.Errorf("columns %d-%d, want 14-53", f.Column, f.EndColumn)
	}
}

// A baseline suppresses the findings it holds, and only those; one belay
// writes is a gitleaks report gitleaks' own loader reads.
func TestBaseline(t *testing.T) {
	r := planted(t)
	rep := scan(t, secrets.Options{Path: r.dir, Mode: secrets.History})
	var b bytes.Buffer
	if err := rep.WriteBaseline(&b); err != nil {
		t.Fatal(err)
	}
	var all []map[string]any
	if err := json.Unmarshal(b.Bytes(), &all); err != nil {
		t.Fatal(err)
	}
	var keep []map[string]any
	for _, f := range all {
		if f["RuleID"] == "private-key" {
			keep = append(keep, f)
		}
	}
	data, _ := json.Marshal(keep)
	base := filepath.Join(r.dir, "gitleaks-baseline.json")
	if err := os.WriteFile(base, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if fs, err := detect.LoadBaseline(base); err != nil || len(fs) != 1 {
		t.Fatalf("gitleaks reads the baseline: %v, %v", fs, err)
	}
	rep = scan(t, secrets.Options{Path: r.dir, Mode: secrets.History, Baseline: base})
	if rep.Baselined != 1 || len(rep.Findings) != 4 {
		t.Errorf("baselined %d, findings %v", rep.Baselined, places(rep.Findings))
	}
	for _, f := range rep.Findings {
		if f.Rule == "private-key" {
			t.Errorf("the baseline did not suppress %v", f)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"":                     "***",
		"abc":                  "***",
		"abcdefgh":             "ab***",
		"abcdefghijklmnop":     "abcd***",
		"ghp_0123456789abcdef": "ghp_***",
	} {
		if got := secrets.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// Bad input is an error naming what is wrong, never a clean scan.
func TestBadInput(t *testing.T) {
	r := planted(t)
	plain := t.TempDir()
	badJSON := filepath.Join(plain, "base.json")
	os.WriteFile(badJSON, []byte("[\n  {\"RuleID\": \"x\",}\n]"), 0o644)
	notReport := filepath.Join(plain, "obj.json")
	os.WriteFile(notReport, []byte(`{"findings": []}`), 0o644)
	badRegex := t.TempDir()
	os.WriteFile(filepath.Join(badRegex, ".gitleaks.toml"), []byte("[[rules]]\nid = \"x\"\nregex = '''(unclosed'''\n"), 0o644)
	badToml := t.TempDir()
	os.WriteFile(filepath.Join(badToml, ".gitleaks.toml"), []byte("[[rules]\nid = 1\n"), 0o644)
	extend := t.TempDir()
	os.WriteFile(filepath.Join(extend, ".gitleaks.toml"), []byte("[extend]\npath = \"other.toml\"\n"), 0o644)
	for _, c := range []struct {
		name string
		opt  secrets.Options
		err  error
		msg  string
	}{
		{"missing path", secrets.Options{Path: filepath.Join(plain, "nope"), Mode: secrets.Tree}, secrets.ErrPath, "no such file or directory"},
		{"not a repository", secrets.Options{Path: plain, Mode: secrets.History}, secrets.ErrGit, "is not in a git repository: fatal: not a git repository"},
		{"unknown revision", secrets.Options{Path: r.dir, Mode: secrets.History, Since: "v9.9.9"}, secrets.ErrGit, "--since v9.9.9: no such commit in"},
		{"option as revision", secrets.Options{Path: r.dir, Mode: secrets.History, Since: "--all"}, secrets.ErrGit, "--since --all: no such commit"},
		{"since in tree mode", secrets.Options{Path: r.dir, Mode: secrets.Tree, Since: "HEAD"}, secrets.ErrPath, "needs a history scan"},
		{"baseline missing", secrets.Options{Path: r.dir, Mode: secrets.Tree, Baseline: filepath.Join(plain, "none.json")}, secrets.ErrBaseline, "no such file"},
		{"baseline not JSON", secrets.Options{Path: r.dir, Mode: secrets.Tree, Baseline: badJSON}, secrets.ErrBaseline, "base.json:2: not JSON: invalid character '}'"},
		{"baseline not a report", secrets.Options{Path: r.dir, Mode: secrets.Tree, Baseline: notReport}, secrets.ErrBaseline, "not a gitleaks JSON report (an array of findings"},
		{"bad regex", secrets.Options{Path: badRegex, Mode: secrets.Tree}, secrets.ErrConfig, "error parsing regexp: missing closing ): `(unclosed`"},
		{"bad toml", secrets.Options{Path: badToml, Mode: secrets.Tree}, secrets.ErrConfig, ".gitleaks.toml:1:9: toml: expected character ]"},
		{"extend path", secrets.Options{Path: extend, Mode: secrets.Tree}, secrets.ErrConfig, "[extend] path and url are not supported"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := secrets.Scan(context.Background(), c.opt)
			if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %v\nwant %v with %q", err, c.err, c.msg)
			}
		})
	}
}
