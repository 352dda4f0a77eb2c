// Package secrets is belay's secret-scanning gate: gitleaks, as a library,
// over a tree, a repository's history or the commits since a revision, with
// the project's rules and allowlists, a baseline of known findings, and every
// secret redacted before it leaves the package.
package secrets

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/rs/zerolog"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/logging"
	"github.com/zricethezav/gitleaks/v8/report"
	"github.com/zricethezav/gitleaks/v8/sources"
)

var (
	// ErrConfig is a project .gitleaks.toml that cannot be used.
	ErrConfig = errors.New("bad gitleaks configuration")
	// ErrBaseline is a baseline file that cannot be read as a gitleaks JSON report.
	ErrBaseline = errors.New("bad baseline")
	// ErrGit is a repository or revision git cannot read.
	ErrGit = errors.New("git")
	// ErrPath is a path to scan that does not exist or cannot be read.
	ErrPath = errors.New("cannot scan")
)

// Mode says what a scan reads.
type Mode string

const (
	// Tree scans the files under a directory as they are now.
	Tree Mode = "tree"
	// History scans every commit of a repository (or those after Since), as
	// `gitleaks git` does: the lines each commit adds.
	History Mode = "git"
)

// Options say what to scan and how.
type Options struct {
	Path string // directory (Tree) or repository (History); "" is "."
	Mode Mode
	// Since, in History mode, limits the scan to commits reachable from HEAD
	// but not from this revision: what a pull request adds.
	Since string
	// Baseline is a gitleaks JSON report whose findings are known and
	// suppressed; "" for none.
	Baseline string
}

// Finding is one secret, redacted.
type Finding struct {
	Rule        string `json:"rule"`
	Description string `json:"description"`
	File        string `json:"file"`
	Line        int    `json:"line"`
	Column      int    `json:"column"`
	EndLine     int    `json:"end_line"`
	EndColumn   int    `json:"end_column"`
	// Secret is the value redacted: at most its first 4 characters (never
	// more than a quarter of it), then ***.
	Secret string `json:"secret"`
	// Commit, Author (a name, no email) and Date are set in History mode.
	Commit string `json:"commit,omitempty"`
	Author string `json:"author,omitempty"`
	Date   string `json:"date,omitempty"`
	// Fingerprint is gitleaks': [commit:]file:rule:line, the form a
	// .gitleaksignore line takes.
	Fingerprint string `json:"fingerprint"`
}

// Report is a scan's result.
type Report struct {
	Mode  Mode   `json:"mode"`
	Path  string `json:"path"`
	Since string `json:"since,omitempty"`
	// Config is the project file laid over gitleaks' defaults, "" if none.
	Config string `json:"config,omitempty"`
	Rules  int    `json:"rules"`
	// Commits counts the commits scanned in History mode.
	Commits int `json:"commits,omitempty"`
	// Baselined counts findings the baseline suppressed.
	Baselined int       `json:"baselined"`
	Findings  []Finding `json:"findings"`

	// redacted are the findings in gitleaks' report form, secrets redacted,
	// for WriteBaseline.
	redacted []report.Finding
}

// Blocks reports whether the scan blocks a release: any finding left.
func (r Report) Blocks() bool { return len(r.Findings) > 0 }

// quiet turns gitleaks' process-wide zerolog output off: belay reports what
// went wrong itself, and gitleaks' debug lines would print secrets.
var quiet = sync.OnceFunc(func() { logging.Logger = zerolog.Nop() })

// Scan runs gitleaks over what opt names.
func Scan(ctx context.Context, opt Options) (Report, error) {
	quiet()
	if opt.Path == "" {
		opt.Path = "."
	}
	rep := Report{Mode: opt.Mode, Path: opt.Path, Since: opt.Since}
	if fi, err := os.Stat(opt.Path); err != nil {
		return rep, fmt.Errorf("%w: %v", ErrPath, err)
	} else if !fi.IsDir() {
		return rep, fmt.Errorf("%w: %s is not a directory", ErrPath, opt.Path)
	}
	var baseline []report.Finding
	if opt.Baseline != "" {
		var err error
		if baseline, err = LoadBaseline(opt.Baseline); err != nil {
			return rep, err
		}
	}

	var src sources.Source
	var root string // the directory findings' File is relative to
	cfgFile := filepath.Join(opt.Path, ConfigFile)
	switch opt.Mode {
	case Tree:
		if opt.Since != "" {
			return rep, fmt.Errorf("%w: a revision to scan since needs a history scan", ErrPath)
		}
		root = opt.Path
	case History:
		up, err := git(ctx, opt.Path, "rev-parse", "--show-cdup")
		if err != nil {
			return rep, fmt.Errorf("%w: %s is not in a git repository: %v", ErrGit, opt.Path, err)
		}
		root = filepath.Join(opt.Path, up)
		cfgFile = filepath.Join(root, ConfigFile)
	default:
		return rep, fmt.Errorf("%w: unknown mode %q (want tree or git)", ErrPath, opt.Mode)
	}
	cfg, used, err := loadConfig(cfgFile)
	if err != nil {
		return rep, err
	}
	if used {
		rep.Config = cfgFile
	}
	rep.Rules = len(cfg.Rules)
	cfg.Path = ConfigFile // gitleaks skips its own config by the path findings carry

	d := detect.NewDetectorContext(ctx, cfg)
	d.MaxDecodeDepth = 5 // gitleaks' CLI default, so both find the same
	if ignore := filepath.Join(root, ".gitleaksignore"); fileExists(ignore) {
		if err := d.AddGitleaksIgnore(ignore); err != nil {
			return rep, fmt.Errorf("%w: %v", ErrConfig, err)
		}
	}
	switch opt.Mode {
	case Tree:
		src = &sources.Files{Config: &d.Config, Path: opt.Path, Sema: d.Sema}
	case History:
		// gitleaks' own default is --full-history --all --diff-filter=tuxdb.
		logOpts := ""
		if opt.Since != "" {
			since, err := git(ctx, opt.Path, "rev-parse", "--verify", "--quiet", "--end-of-options", opt.Since+"^{commit}")
			if err != nil {
				return rep, fmt.Errorf("%w: --since %s: no such commit in %s", ErrGit, opt.Since, root)
			}
			logOpts = "--full-history --diff-filter=tuxdb " + since + "..HEAD"
		}
		cmd, err := sources.NewGitLogCmdContext(ctx, opt.Path, logOpts)
		if err != nil {
			return rep, fmt.Errorf("%w: git log in %s: %v", ErrGit, root, err)
		}
		src = &sources.Git{Cmd: cmd, Config: &d.Config, Remote: &sources.RemoteInfo{}, Sema: d.Sema}
	}
	cs := &checked{Source: src}
	if opt.Mode == Tree {
		cs.under = opt.Path
	}
	raw, err := d.DetectSource(ctx, cs)
	if err == nil {
		err = cs.err
	}
	if err != nil {
		if opt.Mode == History {
			return rep, fmt.Errorf("%w: reading the history of %s failed (%v); `git -C %s log -p --all` shows git's message", ErrGit, root, err, root)
		}
		return rep, fmt.Errorf("%w: %v", ErrPath, err)
	}
	rep.Commits = cs.commits()
	skip := baselineFile(opt.Baseline)
	for _, f := range raw {
		if skip != "" && inTree(f.File, root) == skip {
			continue
		}
		if baseline != nil && !detect.IsNew(f, 100, baseline) {
			rep.Baselined++
			continue
		}
		rep.Findings = append(rep.Findings, redact(f))
		f.Redact(100)
		f.Fragment = nil
		rep.redacted = append(rep.redacted, f)
	}
	sortFindings(rep)
	return rep, nil
}

// checked is a source that keeps the first error it yields: gitleaks logs
// such errors (git failing half way, say) and carries on, which would let a
// failed scan pass as clean.
//
// With under set, it also names files relative to that directory, as they
// are in a repository, so that the project's path allowlists (^fixtures/)
// and baselines read the same in both modes.
type checked struct {
	sources.Source
	under string
	mu    sync.Mutex
	err   error
	shas  map[string]bool
}

func (c *checked) Fragments(ctx context.Context, yield sources.FragmentsFunc) error {
	return c.Source.Fragments(ctx, func(f sources.Fragment, err error) error {
		if c.under != "" && f.FilePath != "" {
			if rel, err := filepath.Rel(c.under, filepath.FromSlash(f.FilePath)); err == nil {
				f.FilePath = filepath.ToSlash(rel)
			}
		}
		c.mu.Lock()
		if err != nil && c.err == nil {
			c.err = err
		}
		if f.CommitSHA != "" {
			if c.shas == nil {
				c.shas = map[string]bool{}
			}
			c.shas[f.CommitSHA] = true
		}
		c.mu.Unlock()
		return yield(f, err)
	})
}

func (c *checked) commits() int { return len(c.shas) }

// redact gives belay's form of a finding, with at most the first 4
// characters of the secret (never more than a quarter of it) kept.
//
// Columns are counted from 1 as editors count them. gitleaks counts one too
// many on every line of a fragment but its first (it counts from the newline
// before the line); belay corrects that here and keeps gitleaks' own figures
// in the baseline form, which must match gitleaks' reports.
func redact(f report.Finding) Finding {
	col, endCol := f.StartColumn, f.EndColumn
	if strings.HasPrefix(f.Line, "\n") {
		col--
	}
	if f.EndLine > f.StartLine || strings.HasPrefix(f.Line, "\n") {
		endCol--
	}
	return Finding{
		Rule: f.RuleID, Description: f.Description,
		File: f.File, Line: f.StartLine, Column: col, EndLine: f.EndLine, EndColumn: endCol,
		Secret: Redact(f.Secret),
		Commit: f.Commit, Author: f.Author, Date: f.Date,
		Fingerprint: f.Fingerprint,
	}
}

// Redact keeps at most the first 4 characters of a secret, and never more
// than a quarter of it, then ***.
func Redact(secret string) string {
	r := []rune(secret)
	return string(r[:min(4, len(r)/4)]) + "***"
}

func sortFindings(r Report) {
	less := func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Date, b.Date), cmp.Compare(a.Commit, b.Commit))
	}
	idx := make([]int, len(r.Findings))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(i, j int) int { return less(r.Findings[i], r.Findings[j]) })
	fs, rs := slices.Clone(r.Findings), slices.Clone(r.redacted)
	for k, i := range idx {
		r.Findings[k], r.redacted[k] = fs[i], rs[i]
	}
}

// LoadBaseline reads a gitleaks JSON report (gitleaks --report-format json,
// redacted or not, or belay's --write-baseline).
func LoadBaseline(name string) ([]report.Finding, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBaseline, err)
	}
	var fs []report.Finding
	if err := json.Unmarshal(data, &fs); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			line := 1 + bytes.Count(data[:se.Offset], []byte("\n"))
			return nil, fmt.Errorf("%w: %s:%d: not JSON: %v", ErrBaseline, name, line, se)
		case errors.As(err, &te):
			return nil, fmt.Errorf("%w: %s: not a gitleaks JSON report (an array of findings, as `gitleaks --report-format json` writes): %v", ErrBaseline, name, err)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrBaseline, name, err)
	}
	if fs == nil {
		fs = []report.Finding{}
	}
	return fs, nil
}

// WriteBaseline writes the findings as a gitleaks JSON report with the
// secrets redacted, as `gitleaks --redact --report-format json` does: a
// baseline for later scans, by belay or gitleaks.
func (r Report) WriteBaseline(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	fs := r.redacted
	if fs == nil {
		fs = []report.Finding{}
	}
	return enc.Encode(fs)
}

// baselineFile is the baseline's path as findings name it, so that a
// baseline kept in the scanned tree is not reported itself.
func baselineFile(name string) string {
	if name == "" {
		return ""
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return ""
	}
	return abs
}

func inTree(file, root string) string {
	abs, _ := filepath.Abs(filepath.Join(root, file))
	return abs
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return "", errors.New(msg)
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

func fileExists(name string) bool {
	fi, err := os.Stat(name)
	return err == nil && !fi.IsDir()
}

// ScanText scans text, the content of the file name, with gitleaks'
// default rules: what `belay validate` asks of a belay.yaml, which is
// committed. Lines count from 1.
func ScanText(name, text string) ([]Finding, error) {
	quiet()
	d, err := detect.NewDetectorDefaultConfig()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	var out []Finding
	for _, f := range d.DetectString(text) {
		f.File = name
		r := redact(f)
		r.Line++ // a string's lines count from 0
		r.EndLine++
		out = append(out, r)
	}
	return out, nil
}
