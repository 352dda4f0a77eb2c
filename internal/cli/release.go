package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newReleaseCmd) }

func newReleaseCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var plan, env string
	var allowContract, supersede, adopt bool
	cmd := &cobra.Command{
		Use:   "release <service> <version> | release --plan plan.yaml",
		Short: "Plan a release rollback-first and start it through the environments in order",
		Long: "release makes the release plan of a version (previous stable per environment from the store,\n" +
			"migration type, rollout, rollback triggers and action, owner, runbook), refuses it when the exit\n" +
			"path is not safe, and starts its rollout in the first environment; each environment's promotion\n" +
			"starts the next, or queues the release there while another rollout runs (`belay queue`).\n" +
			"Follow the whole release with `belay wait --release N`. --plan takes a release_plan file in the\n" +
			"case study's shape instead.",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 || plan == "" && len(args) == 2 {
				return nil
			}
			return fmt.Errorf("give <service> <version>, or a release_plan file with -f or --plan")
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && plan == "" {
				// `belay release -f plan.yaml`, the spelling: -f names the plan, belay.yaml the project.
				doc, err := spec.LoadDocument(f.file)
				if err != nil {
					return err
				}
				if doc.Kind != spec.KindReleasePlan {
					return fmt.Errorf("%s is a %s, not a release_plan: give <service> <version>", f.file, doc.Kind)
				}
				plan, f.file = f.file, "belay.yaml"
			}
			req := api.ReleaseRequest{AllowContract: allowContract, Reason: f.reason, Environment: env, Supersede: supersede, Adopt: adopt}
			if plan != "" {
				b, err := os.ReadFile(plan)
				if err != nil {
					return err
				}
				req.PlanYAML = string(b)
			} else {
				req.Service, req.Version = args[0], args[1]
			}
			if allowContract && strings.TrimSpace(f.reason) == "" {
				return fmt.Errorf("--allow-contract needs --reason: say why an automatic rollback past this release is acceptable")
			}
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			var ans api.ReleaseAnswer
			if err := c.do(cmd.Context(), "POST", "/releases", req, &ans); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), ans, func(w io.Writer) error { return printRelease(w, ans) })
		},
	}
	f.add(cmd, true)
	cmd.Flags().StringVar(&plan, "plan", "", "a release_plan file in the case study's YAML")
	cmd.Flags().StringVar(&env, "env", "", "start in this environment; earlier ones must already run the version as stable")
	cmd.Flags().BoolVar(&supersede, "supersede", false, "where this release must wait for a busy environment, cancel older releases of the service waiting there")
	cmd.Flags().BoolVar(&adopt, "adopt", false, "deploy over what the environments' targets report changed outside belay (drift), instead of stopping; audited as rollout.drift.adopted")
	cmd.Flags().BoolVar(&allowContract, "allow-contract", false, "accept a contract migration (no automatic rollback past it); needs --reason")
	return cmd
}

func printRelease(w io.Writer, a api.ReleaseAnswer) error {
	p := a.Plan
	fmt.Fprintf(w, "release %d: %s\n", a.Release, p.Version)
	fmt.Fprintf(w, "  digest          %s\n", p.Digest)
	envs := make([]string, 0, len(p.Environments))
	for _, e := range p.Environments {
		prev := p.PreviousStable[e]
		if prev == "" {
			prev = "none (first release)"
		}
		envs = append(envs, fmt.Sprintf("%s: %s", e, prev))
	}
	fmt.Fprintf(w, "  previous_stable %s\n", strings.Join(envs, "; "))
	fmt.Fprintf(w, "  migration_type  %s\n  rollout         %s\n  owner           %s\n", p.MigrationType, p.Rollout, p.Owner)
	if p.Actor != "" && p.Actor != p.Owner {
		fmt.Fprintf(w, "  released by     %s\n", p.Actor)
	}
	fmt.Fprintf(w, "  rollback        %s when %s\n", strings.Join(p.RollbackAction, ", then "), strings.Join(p.Triggers, " or "))
	if p.Adopt {
		fmt.Fprintf(w, "  adopt           drift on the targets is deployed over (audited)\n")
	}
	if p.Runbook != "" {
		fmt.Fprintf(w, "  runbook         %s\n", p.Runbook)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	fmt.Fprintf(w, "rollout %d started in %s\n", a.Rollout, a.Env)
	_, err := fmt.Fprintf(w, "follow release %d through every environment with `belay wait --release %d`, or `belay status`\n", a.Release, a.Release)
	return err
}
