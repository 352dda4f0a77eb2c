package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/atomicfile"
	"github.com/belay-dev/belay/internal/ci"
	"github.com/belay-dev/belay/internal/gate/vuln"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newCICmd) }

func newCICmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ci run <stage> | export github|gitlab",
		Short: "Run a stage of belay.yaml's pipeline here, or write a CI workflow that does",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newCIRunCmd(g), newCIExportCmd(g))
	return cmd
}

// ciGates are the built-in gates belay ci runs.
func ciGates(g *Globals, file string, p *spec.Project) map[spec.Gate]ci.Gate {
	build := buildGate(g, file, p)
	return map[spec.Gate]ci.Gate{
		spec.GateBuildArtifact:   build,
		spec.GatePublishArtifact: build,
		spec.GateMigrationCheck:  ci.MigrationGate(p),
		spec.GateSecrets:         ci.SecretsGate(),
		spec.GateParity:          ci.ParityGate(p),
		spec.GateDependencyAudit: ci.VulnGate(true, nil),
		spec.GateContainerScan:   ci.VulnGate(false, []vuln.Tool{vuln.Trivy, vuln.Grype}),
	}
}

// buildGate is build_artifact and publish_artifact: every service built at
// the commit, signed and published, as `belay build` does; an artifact
// already published is verified, not built twice.
func buildGate(g *Globals, file string, p *spec.Project) ci.Gate {
	return func(ctx context.Context, _ string, _ *spec.Step, out io.Writer) (ci.GateResult, error) {
		var res ci.GateResult
		var pubs []*artifact.Published
		f := &artifactFlags{file: file}
		for _, svc := range p.ServiceNames() {
			pub, err := g.build(ctx, f, p, svc, "", "", false, out)
			if err != nil {
				return res, fmt.Errorf("%s: %w", svc, err)
			}
			pubs = append(pubs, pub)
			fmt.Fprintf(out, "%s %s in %s\n", pub.Version, pub.Digest, pub.Store)
		}
		var names []string
		for _, pub := range pubs {
			names = append(names, pub.Version)
		}
		res.Summary, res.Detail = "published "+strings.Join(names, ", "), pubs
		return res, nil
	}
}

func newCIRunCmd(g *Globals) *cobra.Command {
	var file, dirFlag, junit, sarif, evidence string
	var noRecord bool
	cmd := &cobra.Command{
		Use:   "run <stage> [--junit FILE] [--sarif FILE] [--evidence FILE]",
		Short: "Run a pipeline stage (pull_request or main_branch) on the working tree, judged by each step's impact",
		Long: "run runs the steps belay.yaml lists for the stage, in order (consecutive steps marked parallel: true\n" +
			"at once), each a shell command (run:) or a built-in gate (gate:), with their output live, prefixed by\n" +
			"the step. Each step is judged by its impact: a failure of a block, block_critical or block_unsafe step\n" +
			"blocks (the gates know what is critical or unsafe); of a warn step, only warns; of a block_promotion\n" +
			"step, lets the release deploy but keeps it out of the last environment. The run's evidence (commit,\n" +
			"steps, timings, results, findings) is recorded in belay's store for the commit, where releases of\n" +
			"its artifacts show it and are judged by it; --junit and --sarif write files for CI systems.\n\n" +
			"Exit 0 when nothing blocks (promotion_blocked included: the release may deploy), 1 when a step\n" +
			"blocks, 2 when the stage cannot run (unknown stage, a gate belay ci does not run).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := spec.LoadPipeline(file)
			if err != nil {
				return err
			}
			if dirFlag == "" {
				dirFlag = filepath.Dir(file)
			}
			dir, err := filepath.Abs(dirFlag)
			if err != nil {
				return err
			}
			commit, err := headCommit(dir)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			r := &ci.Runner{Project: p, Dir: dir, Commit: commit, Gates: ciGates(g, file, p), Out: cmd.ErrOrStderr()}
			if _, err := r.Plan(args[0]); err != nil {
				return &exitError{code: exitGateInput, err: usageError{err}}
			}
			rep, err := r.Run(ctx, args[0])
			if err != nil {
				return err
			}
			if err := writeCIFiles(rep, junit, sarif, evidence); err != nil {
				return err
			}
			if !noRecord {
				if err := recordCIRun(cmd, g, file, rep); err != nil {
					return err
				}
			}
			if err := g.emit(cmd.OutOrStdout(), rep, func(w io.Writer) error { return printCIReport(w, rep) }); err != nil {
				return err
			}
			if rep.Status == ci.StatusBlocked {
				return &exitError{code: 1, reported: g.Output == "json", err: fmt.Errorf("stage %s blocked: %s", rep.Stage, failedSteps(rep))}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "belay.yaml", "project file, or a file holding only pipeline:; the stage runs in its directory")
	cmd.Flags().StringVar(&dirFlag, "dir", "", "the directory the stage runs in (default the file's)")
	cmd.Flags().StringVar(&junit, "junit", "", "write a JUnit XML report of the steps to FILE")
	cmd.Flags().StringVar(&sarif, "sarif", "", "write the gates' findings as SARIF 2.1.0 to FILE")
	cmd.Flags().StringVar(&evidence, "evidence", "", "write the evidence bundle (JSON) to FILE")
	cmd.Flags().BoolVar(&noRecord, "no-record", false, "do not record the run in belay's store")
	return cmd
}

// headCommit is the commit the working tree is at, marked when the tree
// has uncommitted changes (the evidence is then not the commit's alone).
func headCommit(dir string) (string, error) {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--verify", "HEAD").Output()
	if err != nil {
		return "", usageError{fmt.Errorf("%s is not a git checkout with a commit: belay ci records its evidence for a commit", dir)}
	}
	sha := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		return sha + "-dirty", nil
	}
	return sha, nil
}

func writeCIFiles(rep ci.Report, junit, sarif, evidence string) error {
	for _, f := range []struct {
		path string
		make func() ([]byte, error)
	}{
		{junit, rep.JUnit},
		{sarif, rep.SARIF},
		{evidence, func() ([]byte, error) { return json.MarshalIndent(rep, "", "  ") }},
	} {
		if f.path == "" {
			continue
		}
		b, err := f.make()
		if err != nil {
			return err
		}
		if err := atomicfile.Write(f.path, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// recordCIRun keeps the evidence in belay's store, for the commit's releases.
func recordCIRun(cmd *cobra.Command, g *Globals, file string, rep ci.Report) error {
	st, err := g.OpenStore(cmd.Context(), file, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	_, err = st.RecordCIRun(cmd.Context(), store.CIRun{Commit: rep.Commit, Stage: rep.Stage, Status: rep.Status, Evidence: b, CreatedAt: time.Now()})
	return err
}

func failedSteps(rep ci.Report) string {
	var names []string
	for _, s := range rep.Steps {
		if s.Status == ci.Failed {
			names = append(names, fmt.Sprintf("%s (%s, impact %s)", s.Name, s.Summary, s.Impact))
		}
	}
	return strings.Join(names, ", ")
}

func printCIReport(w io.Writer, rep ci.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tKIND\tIMPACT\tSTATUS\tTIME\tRESULT")
	for _, s := range rep.Steps {
		kind := "run"
		if s.Gate != "" {
			kind = "gate " + string(s.Gate)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1fs\t%s\n", s.Name, kind, s.Impact, s.Status, s.Duration.Seconds(), s.Summary)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "stage %s on %s: %s in %.1fs\n", rep.Stage, shortCommit(rep.Commit), rep.Status, rep.Duration.Seconds())
	return err
}

func shortCommit(c string) string {
	if len(c) > 12 && !strings.HasSuffix(c, "-dirty") {
		return c[:12]
	}
	return c
}

func newCIExportCmd(g *Globals) *cobra.Command {
	var file, branch, install string
	cmd := &cobra.Command{
		Use:   "export github|gitlab [--branch main]",
		Short: "Print a CI workflow that runs belay.yaml's pull_request and main_branch stages with belay ci run",
		Long: "export prints a GitHub Actions workflow (.github/workflows/belay.yml) or a GitLab CI file\n" +
			"(.gitlab-ci.yml) with one job per stage that has steps: pull_request on pull (merge) requests,\n" +
			"main_branch on pushes to --branch. Each job installs belay, runs `belay ci run <stage>` and keeps the\n" +
			"JUnit report (and on GitHub uploads the SARIF findings to code scanning). The deploy stage is\n" +
			"`belay release`, run where belay's server is, not in a CI runner.",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"github", "gitlab"},
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := spec.LoadPipeline(file)
			if err != nil {
				return err
			}
			if p.Pipeline == nil {
				return usageError{fmt.Errorf("%s has no pipeline: block to export", file)}
			}
			var stages []string
			for _, st := range p.Pipeline.Stages() {
				if st.Name != "deploy" && len(st.Steps) > 0 {
					stages = append(stages, st.Name)
				}
			}
			switch args[0] {
			case "github":
				_, err = io.WriteString(cmd.OutOrStdout(), githubWorkflow(stages, branch, install))
			case "gitlab":
				_, err = io.WriteString(cmd.OutOrStdout(), gitlabCI(stages, branch, install))
			default:
				return usageError{fmt.Errorf("unknown CI %q: export github or gitlab", args[0])}
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "belay.yaml", "project file")
	cmd.Flags().StringVar(&branch, "branch", "main", "the branch whose pushes run main_branch")
	cmd.Flags().StringVar(&install, "install", "go install github.com/belay-dev/belay/cmd/belay@latest", "the command that installs belay in the job")
	return cmd
}

func githubWorkflow(stages []string, branch, install string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by `belay ci export github`: runs belay.yaml's pipeline stages with belay ci run.\nname: belay\non:\n  pull_request:\n  push:\n    branches: [%s]\npermissions:\n  contents: read\n  security-events: write\njobs:\n", branch)
	for _, st := range stages {
		cond := "github.event_name == 'pull_request'"
		if st == "main_branch" {
			cond = "github.event_name == 'push'"
		}
		fmt.Fprintf(&b, `  %[1]s:
    if: %[2]s
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: actions/setup-go@v5
        with:
          go-version: stable
      - run: %[3]s
      - run: belay ci run %[1]s --no-record --junit belay-%[1]s.xml --sarif belay-%[1]s.sarif --evidence belay-%[1]s.json
      - if: always()
        uses: actions/upload-artifact@v4
        with:
          name: belay-%[1]s
          path: belay-%[1]s.*
      - if: always()
        uses: github/codeql-action/upload-sarif@v3
        with:
          sarif_file: belay-%[1]s.sarif
          category: belay-%[1]s
`, st, cond, install)
	}
	return b.String()
}

func gitlabCI(stages []string, branch, install string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by `belay ci export gitlab`: runs belay.yaml's pipeline stages with belay ci run.\nstages: [%s]\n", strings.Join(stages, ", "))
	for _, st := range stages {
		rule := `$CI_PIPELINE_SOURCE == "merge_request_event"`
		if st == "main_branch" {
			rule = fmt.Sprintf(`$CI_COMMIT_BRANCH == "%s"`, branch)
		}
		fmt.Fprintf(&b, `belay:%[1]s:
  stage: %[1]s
  image: golang:latest
  rules:
    - if: '%[2]s'
  script:
    - %[3]s
    - export PATH="$(go env GOPATH)/bin:$PATH"
    - belay ci run %[1]s --no-record --junit belay-%[1]s.xml --sarif belay-%[1]s.sarif --evidence belay-%[1]s.json
  artifacts:
    when: always
    paths: [belay-%[1]s.sarif, belay-%[1]s.json]
    reports:
      junit: belay-%[1]s.xml
`, st, rule, install)
	}
	return b.String()
}
