package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/belay-dev/belay/internal/spec"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newInitCmd) }

// InitResult is what `belay init -o json` prints.
type InitResult struct {
	File    string `json:"file"`
	Service string `json:"service"`
	// Gitignore is the .gitignore beside File, which ignores .belay/ (state,
	// keys, artifacts); GitignoreAdded says whether init added the line.
	Gitignore      string `json:"gitignore"`
	GitignoreAdded bool   `json:"gitignore_added"`
}

func newInitCmd(g *Globals) *cobra.Command {
	var (
		file    = "belay.yaml"
		service = "app"
		force   bool
	)
	cmd := &cobra.Command{
		Use:   "init [--service NAME] [--force]",
		Short: "Write a commented belay.yaml for one service with staging and production",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := spec.ValidName(service); err != nil {
				return fmt.Errorf("flag --service: %w", err)
			}
			text := InitTemplate(service)
			if _, err := spec.Parse(file, []byte(text)); err != nil {
				return fmt.Errorf("the generated belay.yaml does not validate (a bug in belay): %w", err)
			}
			if err := writeNew(file, text, force); err != nil {
				return err
			}
			res := InitResult{File: file, Service: service, Gitignore: filepath.Join(filepath.Dir(file), ".gitignore")}
			added, err := ensureIgnored(res.Gitignore, homeIgnore)
			if err != nil {
				return err
			}
			res.GitignoreAdded = added
			return g.emit(cmd.OutOrStdout(), res, func(w io.Writer) error {
				if _, err := fmt.Fprintf(w, "wrote %s for service %s (staging, production); check it with: belay validate -f %s\n", file, service, file); err != nil {
					return err
				}
				verb := "already ignores"
				if added {
					verb = "now ignores"
				}
				_, err := fmt.Fprintf(w, "%s %s (belay's state, keys and artifacts)\n", res.Gitignore, verb+" "+homeIgnore)
				return err
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", file, "where to write the project file")
	f.StringVar(&service, "service", service, "name of the service (lower-case letters, digits and '-')")
	f.BoolVar(&force, "force", false, "overwrite an existing file")
	return cmd
}

// homeIgnore is the .gitignore line for the default home directory.
const homeIgnore = ".belay/"

// ensureIgnored adds line to the .gitignore at path unless a line there
// already ignores the same directory (with or without the slashes); it
// reports whether it added the line.
func ensureIgnored(path, line string) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	want := strings.Trim(line, "/")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Trim(strings.TrimSpace(l), "/") == want {
			return false, nil
		}
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	b = append(b, line+"\n"...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	return true, nil
}

// writeNew writes text to path, refusing to replace a file unless force.
func writeNew(path, text string, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists: use --force to overwrite it", path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// InitTemplate is the belay.yaml that `belay init` writes for service.
func InitTemplate(service string) string {
	return strings.ReplaceAll(initTemplate, "SERVICE", service)
}

const initTemplate = `# belay.yaml: how SERVICE is built, checked, deployed and rolled back.
# Check it with "belay validate"; "belay schema" prints a JSON Schema for editors.
project: SERVICE

# CI stages, in order: each step is a command (run:) or a built-in gate
# (gate:), with the impact a failure should have (block, block_critical,
# block_unsafe, block_promotion or warn). belay validates this block but does
# not run it yet.
pipeline:
  pull_request: [lint, unit_tests, secrets]
  main_branch: [build_artifact]
  deploy: [deploy_staging, smoke_tests, deploy_production, promote_or_rollback]
  steps:
    lint:                {run: go vet ./..., impact: block}
    unit_tests:          {run: go test ./..., impact: block}
    secrets:             {gate: secrets, impact: block}
    build_artifact:      {gate: build_artifact, impact: block}
    deploy_staging:      {deploy: staging, impact: block}
    smoke_tests:         {gate: smoke_tests, impact: block_promotion}
    deploy_production:   {deploy: production, impact: block}
    promote_or_rollback: {gate: promote_or_rollback, impact: block}

services:
  SERVICE:
    build:
      command: go build -trimpath -o bin/SERVICE .
      outputs: [bin/SERVICE]
    run:
      command: bin/SERVICE        # must listen on $PORT, which belay assigns
    health_check:
      http: {path: /healthz, expect_status: 200}
      interval: 2s
      timeout: 1s
      unhealthy_threshold: 3
      health_timeout: 60s
    smoke_tests:
      - name: root answers
        http: {method: GET, path: /, expect_status: 200}
    # Canary: each step holds its weight at least min_duration while the
    # analysis compares the new version with the stable one.
    rollout:
      strategy: canary
      steps:
        - {weight: 5%, min_duration: 2m}
        - {weight: 25%, min_duration: 5m}
        - {weight: 50%, min_duration: 5m}
        - {weight: 100%}
      drain_timeout: 30s
      watch: 10m          # at 100 %, the triggers judge the new version 10m more before it becomes stable
    # Rollback-first: when to leave, and how.
    rollback_trigger:
      - error_rate > 1% for 5m
      - p95_latency > 900ms for 10m
      - health_check_failures > 3
    rollback_action: deploy previous_stable
    environments:
      staging:
        rollout: {strategy: all_at_once}
      production:
        instances: 2

# Promotion order: staging first, then production.
environments:
  - name: staging
    listen: 127.0.0.1:8081
  - name: production
    listen: 127.0.0.1:8082
    protection:
      require_approval: true     # a release waits here until someone other than who released it runs
                                 # belay approve <release> --env production (a token with the approver role)
`
