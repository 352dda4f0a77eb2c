// Package ci runs a stage of belay.yaml's pipeline on a working tree: each
// step a shell command or a built-in gate, in order, consecutive steps
// marked parallel together, each judged by its release impact. The result
// is a Report: the evidence bundle a release of the commit shows, and the
// source of the JUnit and SARIF files CI systems read.
package ci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/belay-dev/belay/internal/spec"
)

// Statuses of a step.
const (
	Passed = "passed" // ran and succeeded, or its findings do not reach its impact
	Failed = "failed" // failed, and its impact blocks the release
	Warned = "warned" // failed, and its impact only warns (or blocks promotion only)
)

// Finding is one problem a gate found, for SARIF and the evidence.
type Finding struct {
	Rule     string `json:"rule"`
	Level    string `json:"level"` // error (blocks under the step's impact) or warning
	Severity string `json:"severity,omitempty"`
	Message  string `json:"message"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
}

// GateResult is what a built-in gate found. Blocks says whether its
// findings fail the step under its impact (the gate knows what is critical
// or unsafe; the runner turns a failure under warn into a warning); Summary is one line for people; Detail is the gate's own report
// (JSON), kept in the evidence.
type GateResult struct {
	Blocks   bool
	Summary  string
	Findings []Finding
	Detail   any
}

// Gate runs a built-in gate in dir as step says.
type Gate func(ctx context.Context, dir string, step *spec.Step, out io.Writer) (GateResult, error)

// StepResult is what one step did.
type StepResult struct {
	Name     string        `json:"name"`
	Run      string        `json:"run,omitempty"`
	Gate     spec.Gate     `json:"gate,omitempty"`
	Impact   spec.Impact   `json:"impact"`
	Status   string        `json:"status"`
	ExitCode int           `json:"exit_code"`
	Summary  string        `json:"summary,omitempty"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
	// Output is the step's combined output, its last 64 KiB.
	Output   string    `json:"output,omitempty"`
	Findings []Finding `json:"findings,omitempty"`
	Detail   any       `json:"detail,omitempty"`
}

// Report is a stage's run: the evidence bundle.
type Report struct {
	Stage    string        `json:"stage"`
	Commit   string        `json:"commit"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
	// Status is passed, blocked (a step whose impact blocks failed) or
	// promotion_blocked (only block_promotion steps failed: the release
	// may deploy, but never reach the last environment).
	Status string       `json:"status"`
	Steps  []StepResult `json:"steps"`
}

// Report statuses (as store.CIRun's).
const (
	StatusPassed           = "passed"
	StatusBlocked          = "blocked"
	StatusPromotionBlocked = "promotion_blocked"
)

// Runner runs stages of a project's pipeline in Dir.
type Runner struct {
	Project *spec.Project
	Dir     string
	Commit  string
	Gates   map[spec.Gate]Gate
	// Out receives every step's output as it comes, each line prefixed
	// with the step's name.
	Out io.Writer
	Now func() time.Time

	outMu sync.Mutex // one line at a time on Out
}

// errDeployStage: the deploy stage is belay release's, not a runner's.
var errDeployStage = errors.New("the deploy stage is what `belay release` does (staging, smoke tests, canary, health, promotion or rollback): run `belay release <service> <version>`")

// Plan checks that stage exists and every step in it can run here, before
// anything runs: a step using a gate this belay cannot run is an error, not
// a silent pass.
func (r *Runner) Plan(stage string) ([][]string, error) {
	pl := r.Project.Pipeline
	if pl == nil {
		return nil, fmt.Errorf("%s has no pipeline: block: add pipeline: {pull_request: [...], steps: {...}}", r.Project.File)
	}
	var steps []string
	found := false
	for _, st := range pl.Stages() {
		if st.Name == stage {
			steps, found = st.Steps, true
		}
	}
	switch {
	case stage == "deploy":
		return nil, errDeployStage
	case !found:
		return nil, fmt.Errorf("unknown stage %q: belay ci runs pull_request or main_branch", stage)
	case len(steps) == 0:
		return nil, fmt.Errorf("stage %s lists no steps in %s", stage, r.Project.File)
	}
	var groups [][]string
	for i, name := range steps {
		s := pl.Steps[name]
		if s == nil {
			return nil, fmt.Errorf("step %q of %s is not defined under pipeline.steps", name, stage)
		}
		switch {
		case s.Deploy != "":
			return nil, fmt.Errorf("step %s deploys to %s: %v", name, s.Deploy, errDeployStage)
		case s.Gate == spec.GateContainerScan && len(s.Report) == 0:
			return nil, fmt.Errorf("step %s: gate container_scan judges a scanner's report of the built artifact: add report: [trivy.json], written by an earlier step (e.g. trivy image --format json -o trivy.json …)", name)
		case s.Gate != "" && r.Gates[s.Gate] == nil:
			return nil, fmt.Errorf("step %s uses gate %s, which belay ci cannot run (it runs %s); %s",
				name, s.Gate, strings.Join(r.gateNames(), ", "), gateHint(s.Gate))
		}
		if i > 0 && s.Parallel && pl.Steps[steps[i-1]].Parallel {
			groups[len(groups)-1] = append(groups[len(groups)-1], name)
			continue
		}
		groups = append(groups, []string{name})
	}
	return groups, nil
}

func (r *Runner) gateNames() []string {
	var out []string
	for _, g := range spec.Gates() {
		if r.Gates[spec.Gate(g)] != nil {
			out = append(out, g)
		}
	}
	return out
}

// gateHint says where a gate that belay ci does not run happens instead.
func gateHint(g spec.Gate) string {
	switch g {
	case spec.GateSmokeTests, spec.GateHealth, spec.GatePromoteOrRollback:
		return "it is a phase of every release, which `belay release` runs"
	}
	return "remove the step or run the check with run:"
}

// Run runs stage: each group of steps in order (the steps of a group at
// once); after a blocking failure the next groups still run, so that one
// run shows every problem, except when ctx ends.
func (r *Runner) Run(ctx context.Context, stage string) (Report, error) {
	groups, err := r.Plan(stage)
	if err != nil {
		return Report{}, err
	}
	now := r.Now
	if now == nil {
		now = time.Now
	}
	rep := Report{Stage: stage, Commit: r.Commit, Started: now().UTC(), Status: StatusPassed}
	for _, group := range groups {
		results := make([]StepResult, len(group))
		var wg sync.WaitGroup
		for i, name := range group {
			wg.Go(func() { results[i] = r.step(ctx, name, now) })
		}
		wg.Wait()
		rep.Steps = append(rep.Steps, results...)
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
	}
	for _, s := range rep.Steps {
		switch {
		case s.Status == Failed:
			rep.Status = StatusBlocked
		case s.Status == Warned && s.Impact == spec.ImpactBlockPromotion && rep.Status == StatusPassed:
			rep.Status = StatusPromotionBlocked
		}
	}
	rep.Duration = now().Sub(rep.Started)
	return rep, nil
}

// step runs one step and judges it by its impact.
func (r *Runner) step(ctx context.Context, name string, now func() time.Time) StepResult {
	s := r.Project.Pipeline.Steps[name]
	res := StepResult{Name: name, Run: s.Run, Gate: s.Gate, Impact: s.Impact, Started: now().UTC()}
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(s.Timeout))
		defer cancel()
	}
	out := &tail{max: 64 << 10}
	w := io.Writer(out)
	if r.Out != nil {
		live := &prefixWriter{w: r.Out, mu: &r.outMu, prefix: name + " | "}
		defer live.flush()
		w = io.MultiWriter(out, live)
	}
	failed := false
	if s.Run != "" {
		res.ExitCode = r.command(ctx, s.Run, w)
		failed = res.ExitCode != 0
		res.Summary = "exit " + fmt.Sprint(res.ExitCode)
		if ctx.Err() == context.DeadlineExceeded {
			res.Summary = fmt.Sprintf("timed out after %s", time.Duration(s.Timeout))
		}
	} else {
		g, err := r.Gates[s.Gate](ctx, r.Dir, s, w)
		res.Summary, res.Findings, res.Detail = g.Summary, g.Findings, g.Detail
		if err != nil {
			res.ExitCode, res.Summary, failed = 2, "error: "+err.Error(), true
			fmt.Fprintf(w, "%v\n", err)
		} else if g.Blocks {
			res.ExitCode, failed = 1, true
		}
	}
	res.Output = out.String()
	res.Duration = now().Sub(res.Started)
	switch {
	case !failed:
		res.Status = Passed
	case s.Impact == spec.ImpactWarn || s.Impact == spec.ImpactBlockPromotion:
		res.Status = Warned
	default:
		res.Status = Failed
	}
	return res
}

// command runs line with sh -c in the runner's directory, its own process
// group killed when ctx ends, and returns its exit code (-1: did not run).
func (r *Runner) command(ctx context.Context, line string, w io.Writer) int {
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Dir, cmd.Stdout, cmd.Stderr, cmd.Env = r.Dir, w, w, append(os.Environ(), "BELAY_CI_COMMIT="+r.Commit)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode()
	}
	fmt.Fprintf(w, "%v\n", err)
	return -1
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
	max int
	cut bool
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf, t.cut = t.buf[len(t.buf)-t.max:], true
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cut {
		return "…" + string(t.buf)
	}
	return string(t.buf)
}

// prefixWriter writes each line with a prefix; lines of steps running at
// once interleave whole. The writer it wraps is shared, so it locks.
type prefixWriter struct {
	w       io.Writer
	mu      *sync.Mutex
	prefix  string
	partial []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	data := append(p.partial, b...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		if _, err := fmt.Fprintf(p.w, "%s%s\n", p.prefix, data[:i]); err != nil {
			return 0, err
		}
		data = data[i+1:]
	}
	p.partial = append(p.partial[:0], data...)
	return len(b), nil
}

// flush writes a last line that had no newline.
func (p *prefixWriter) flush() {
	if len(p.partial) > 0 {
		_, _ = p.Write([]byte("\n"))
	}
}
