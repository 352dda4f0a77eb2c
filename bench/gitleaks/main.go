// Command gitleaks times a full-history secret scan by `belay gate secrets
// --git` against gitleaks' own CLI, built from the same module version, on
// the same generated repository: N commits of small files with a few
// planted secrets, made with git fast-import and cached between runs. It
// prints the best of a few wall times for each, the ratio, and the findings
// each reported (they must agree: same rules, same history).
//
//	go run ./bench/gitleaks [-commits 10000] [-runs 3] [-repo DIR]
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	commits := flag.Int("commits", 10000, "commits in the generated repository")
	runs := flag.Int("runs", 3, "scans per tool; the best wall time counts")
	repo := flag.String("repo", "", "where the repository is generated, or reused if it is there (default: in the user cache directory)")
	flag.Parse()
	if err := run(*commits, *runs, *repo); err != nil {
		fmt.Fprintln(os.Stderr, "gitleaks bench:", err)
		os.Exit(1)
	}
}

func run(commits, runs int, repo string) error {
	if commits < 1 || runs < 1 {
		return errors.New("-commits and -runs must be positive")
	}
	if repo == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return err
		}
		repo = filepath.Join(cache, "belay-bench", fmt.Sprintf("gitleaks-%d-v1", commits))
	}
	planted, err := ensureRepo(repo, commits)
	if err != nil {
		return err
	}
	bin, err := os.MkdirTemp("", "belay-bench-gitleaks-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)
	belay, gitleaks := filepath.Join(bin, "belay"), filepath.Join(bin, "gitleaks")
	for _, b := range [][2]string{{belay, "./cmd/belay"}, {gitleaks, "github.com/zricethezav/gitleaks/v8"}} {
		if out, err := exec.Command("go", "build", "-o", b[0], b[1]).CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", b[1], err, out)
		}
	}
	report := filepath.Join(bin, "report.json")
	tools := []tool{
		{name: "belay gate secrets --git", cmd: []string{belay, "gate", "secrets", "--git", "-o", "json", repo}, count: countBelay},
		{name: "gitleaks git", cmd: []string{gitleaks, "git", "--no-banner", "--redact", "--log-level", "error", "--report-format", "json", "--report-path", report, repo},
			count: func([]byte) (int, error) { return countGitleaks(report) }},
	}
	fmt.Printf("repository: %s, %d commits, %d secrets planted; %d CPUs, %s; best of %d\n\n", repo, commits, planted, runtime.NumCPU(), runtime.Version(), runs)
	best := make([]time.Duration, len(tools))
	found := make([]int, len(tools))
	for r := range runs {
		for i, t := range tools { // interleaved, so that a slow spell hits both
			d, n, err := t.time()
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			if r == 0 || d < best[i] {
				best[i] = d
			}
			found[i] = n
		}
	}
	fmt.Println("| scanner | best wall time | findings |")
	fmt.Println("|---|---|---|")
	for i, t := range tools {
		fmt.Printf("| %s | %.2f s | %d |\n", t.name, best[i].Seconds(), found[i])
	}
	fmt.Printf("\nbelay / gitleaks: %.2f\n", best[0].Seconds()/best[1].Seconds())
	if found[0] != found[1] {
		return fmt.Errorf("the scanners disagree: belay found %d, gitleaks %d", found[0], found[1])
	}
	return nil
}

type tool struct {
	name  string
	cmd   []string
	count func(stdout []byte) (int, error)
}

// time runs the scan once; exit 1 is a scan that found secrets.
func (t tool) time() (time.Duration, int, error) {
	cmd := exec.Command(t.cmd[0], t.cmd[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		return 0, 0, fmt.Errorf("%v\n%s", err, stderr.String())
	}
	n, err := t.count(stdout.Bytes())
	return d, n, err
}

func countBelay(stdout []byte) (int, error) {
	var rep struct{ Findings []json.RawMessage }
	if err := json.Unmarshal(stdout, &rep); err != nil {
		return 0, fmt.Errorf("belay's report: %w", err)
	}
	return len(rep.Findings), nil
}

func countGitleaks(report string) (int, error) {
	data, err := os.ReadFile(report)
	if err != nil {
		return 0, err
	}
	var fs []json.RawMessage
	if err := json.Unmarshal(data, &fs); err != nil {
		return 0, fmt.Errorf("gitleaks' report: %w", err)
	}
	return len(fs), nil
}

// ensureRepo generates the repository unless one with that many commits is
// already there, and says how many secrets are planted in it.
func ensureRepo(dir string, commits int) (int, error) {
	if out, err := exec.Command("git", "-C", dir, "rev-list", "--count", "HEAD").Output(); err == nil {
		if n, _ := strconv.Atoi(strings.TrimSpace(string(out))); n == commits {
			return len(plantAt(commits)), nil
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	if out, err := exec.Command("git", "-C", dir, "init", "-q", "-b", "main").CombinedOutput(); err != nil {
		return 0, fmt.Errorf("git init: %v\n%s", err, out)
	}
	var stream bytes.Buffer
	planted := history(&stream, commits)
	imp := exec.Command("git", "-C", dir, "fast-import", "--quiet")
	imp.Stdin = &stream
	if out, err := imp.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("git fast-import: %v\n%s", err, out)
	}
	return planted, nil
}
