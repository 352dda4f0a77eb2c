package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/auth"
	"github.com/belay-dev/belay/internal/infra"
	"github.com/belay-dev/belay/internal/infra/tofu"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/spf13/cobra"
)

func init() {
	commands = append(commands, newPlanCmd, newApplyCmd, newDriftCmd, newUnlockCmd)
	jsonOutputs["belay plan"] = jsonOutput{infra.Plan{}, "an object: the stored plan with its ID, hash and changes (each with its field diffs)"}
	jsonOutputs["belay plan show"] = jsonOutput{infra.Plan{}, "an object, as `belay plan` printed it, with its state"}
	jsonOutputs["belay plan approve"] = jsonOutput{api.InfraApproved{}, "an object"}
	jsonOutputs["belay apply"] = jsonOutput{infra.Applied{}, "an object: the plan and the changes applied"}
	jsonOutputs["belay drift"] = jsonOutput{[]infra.DriftReport{}, "an array, one report per environment (only new drift unless --all; exit 2 when any)"}
	jsonOutputs["belay drift ack"] = jsonOutput{[]infra.Drift{}, "an array: the drift acknowledged"}
	jsonOutputs["belay unlock"] = jsonOutput{api.InfraUnlocked{}, "an object; holder is empty when the lock was free"}
}

// exitDrift is drift's exit code when it finds new drift.
const exitDrift = 2

func newPlanCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var env, tofuPath string
	cmd := &cobra.Command{
		Use:   "plan --env E | plan show ID | plan approve ID",
		Short: "Plan an environment's service stack: what apply would create, update or delete, field by field",
		Long: "belay plan observes the resources belay.yaml's service_stack asks for in an environment (PostgreSQL\n" +
			"roles and database, Redis ACL users) on the servers the environment's stack parameters name, and\n" +
			"shows per resource create / update / delete / adopt / import / no-op with each field that differs.\n" +
			"Deletions are flagged; deleting a protected resource (a database) needs apply --delete-protected.\n" +
			"The plan is stored with its hash; `belay plan approve ID` (approver role) approves exactly it, and\n" +
			"`belay apply --env E --plan ID` applies it if the servers still give the same plan.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if env == "" {
				return usageError{errors.New("plan: --env is required")}
			}
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			req := api.InfraPlanRequest{Reason: f.reason}
			if tofuPath != "" {
				if req.Tofu, err = readTofuPlan(cmd.Context(), tofuPath); err != nil {
					return err
				}
			}
			var pl infra.Plan
			if err := c.do(cmd.Context(), "POST", "/infra/envs/"+url.PathEscape(env)+"/plan", req, &pl); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), pl, func(w io.Writer) error { return printPlan(w, pl) })
		},
	}
	f.add(cmd, true)
	cmd.Flags().StringVar(&env, "env", "", "environment to plan")
	cmd.Flags().StringVar(&tofuPath, "tofu", "", "an OpenTofu/Terraform plan as evidence: the JSON of `tofu show -json`, or a directory holding plan.json (or a binary tfplan, converted when tofu is on PATH)")
	cmd.AddCommand(newPlanShowCmd(g), newPlanApproveCmd(g))
	return cmd
}

func planArg(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageError{fmt.Errorf("plan ID %q is not a positive number (belay plan prints it)", s)}
	}
	return id, nil
}

func newPlanShowCmd(g *Globals) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a stored plan and its state",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := planArg(args[0])
			if err != nil {
				return err
			}
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			var pl infra.Plan
			if err := c.do(cmd.Context(), "GET", fmt.Sprintf("/infra/plans/%d", id), nil, &pl); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), pl, func(w io.Writer) error { return printPlan(w, pl) })
		},
	}
	f.add(cmd, false)
	return cmd
}

func newPlanApproveCmd(g *Globals) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "approve ID",
		Short: "Approve a stored plan (approver role in its environment; audited)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := planArg(args[0])
			if err != nil {
				return err
			}
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			var a api.InfraApproved
			if err := c.do(cmd.Context(), "POST", fmt.Sprintf("/infra/plans/%d/approve", id), api.InfraApproveRequest{Reason: f.reason}, &a); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), a, func(w io.Writer) error {
				tf := ""
				if a.TofuHash != "" {
					tf = ", tofu plan " + short(strings.TrimPrefix(a.TofuHash, "sha256:"), 12)
				}
				if a.State != "approved" {
					_, err := fmt.Fprintf(w, "plan %d for %s: approvals so far %s; it needs more before apply (hash %s%s)\n",
						a.ID, a.Environment, strings.Join(a.Approvals, ", "), short(a.Hash, 12), tf)
					return err
				}
				_, err := fmt.Fprintf(w, "plan %d for %s approved by %s (hash %s%s)\n", a.ID, a.Environment, a.ApprovedBy, short(a.Hash, 12), tf)
				return err
			})
		},
	}
	f.add(cmd, true)
	return cmd
}

func printPlan(w io.Writer, pl infra.Plan) error {
	state := pl.State
	if state == "" {
		state = "pending"
	}
	fmt.Fprintf(w, "plan %d for %s (%s, hash %s)\n", pl.ID, pl.Environment, state, short(pl.Hash, 12))
	for _, c := range pl.Changes {
		flags := ""
		if c.Destructive {
			flags += "  DESTRUCTIVE"
		}
		if c.Protected && c.Action == infra.ActDelete {
			flags += "  PROTECTED"
		}
		if c.Policy == "observe" {
			flags += "  (observe only)"
		}
		fmt.Fprintf(w, "  %-8s %s/%s%s\n", c.Action, c.Kind, c.Name, flags)
		for _, d := range c.Diffs {
			from := strconv.Quote(d.From)
			if d.Unset {
				from = "(none)"
			}
			fmt.Fprintf(w, "      %s: %s -> %q\n", d.Field, from, d.To)
		}
	}
	if tf := pl.Tofu; tf != nil {
		fmt.Fprintf(w, "tofu plan %s (%s)\n", tf.Source, tf.Hash)
		for _, c := range tf.Changes {
			if c.Action == "no-op" || c.Action == "read" {
				continue
			}
			flags := ""
			if c.Destructive {
				flags = "  DESTRUCTIVE"
			}
			fmt.Fprintf(w, "  %-8s %s%s\n", c.Action, c.Address, flags)
			for _, fd := range c.Fields {
				fmt.Fprintf(w, "      %s: %s -> %s\n", fd.Name, fd.Before, fd.After)
			}
		}
		for _, c := range tf.Drift {
			fmt.Fprintf(w, "  drifted  %s (found by tofu)\n", c.Address)
		}
	}
	var parts []string
	for _, a := range []string{infra.ActCreate, infra.ActUpdate, infra.ActDelete, infra.ActAdopt, infra.ActImport, infra.ActNoop} {
		if n := pl.Summary[a]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, a))
		}
	}
	if len(parts) == 0 {
		parts = []string{"nothing"}
	}
	_, err := fmt.Fprintf(w, "%s; approve with `belay plan approve %d`, then `belay apply --env %s --plan %d`\n",
		strings.Join(parts, ", "), pl.ID, pl.Environment, pl.ID)
	return err
}

func newApplyCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var env, plan, tofuPath string
	var delProtected bool
	cmd := &cobra.Command{
		Use:   "apply --env E --plan ID",
		Short: "Apply an approved infrastructure plan (deployer role; under the environment's lock; audited)",
		Long: "belay apply applies a plan made by `belay plan` and approved with `belay plan approve`. It takes\n" +
			"the environment's lock (a lease released on exit or expiry; `belay unlock` frees a dead one),\n" +
			"observes the servers again and refuses a plan they no longer give (stale), refuses to delete a\n" +
			"protected resource without --delete-protected and --reason (audited), and records each resource\n" +
			"as it goes, with a create-pending marker before each create, so that an apply killed half-way\n" +
			"can be planned and applied again without duplicating or losing anything.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if env == "" || plan == "" {
				return usageError{errors.New("apply: --env and --plan are required")}
			}
			id, err := planArg(plan)
			if err != nil {
				return err
			}
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			req := api.InfraApplyRequest{Environment: env, DeleteProtected: delProtected, Reason: f.reason}
			// A plan approved with a tofu plan: read it again (--tofu, else
			// where it was read from) for the server to compare the hashes.
			var pl infra.Plan
			if err := c.do(cmd.Context(), "GET", fmt.Sprintf("/infra/plans/%d", id), nil, &pl); err != nil {
				return err
			}
			if pl.Tofu != nil || tofuPath != "" {
				from := tofuPath
				if from == "" {
					from = pl.Tofu.Source
				}
				if req.Tofu, err = readTofuPlan(cmd.Context(), from); err != nil {
					return fmt.Errorf("plan %d: reading its tofu plan again: %w (give it with --tofu)", id, err)
				}
			}
			var out infra.Applied
			if err := c.do(cmd.Context(), "POST", fmt.Sprintf("/infra/plans/%d/apply", id), req, &out); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), out, func(w io.Writer) error {
				for _, c := range out.Applied {
					if c.Action != infra.ActNoop {
						fmt.Fprintf(w, "%s %s/%s\n", c.Action, c.Kind, c.Name)
					}
				}
				_, err := fmt.Fprintf(w, "plan %d applied to %s: %d changes\n", id, env, len(out.Applied))
				return err
			})
		},
	}
	f.add(cmd, true)
	cmd.Flags().StringVar(&env, "env", "", "environment to apply to")
	cmd.Flags().StringVar(&plan, "plan", "", "ID of the approved plan")
	cmd.Flags().BoolVar(&delProtected, "delete-protected", false, "allow the plan to delete protected resources (needs --reason; audited)")
	cmd.Flags().StringVar(&tofuPath, "tofu", "", "the tofu plan the plan was approved with, read again (default: where belay plan read it)")
	return cmd
}

func newDriftCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var env string
	var all bool
	cmd := &cobra.Command{
		Use:   "drift [--env E]",
		Short: "Report resources changed on their servers since belay applied them",
		Long: "belay drift observes every resource belay applied (in one environment, or in each) and compares\n" +
			"the fields belay owns with what it last applied, as the servers normalise them (Redis keeps ACL\n" +
			"rules rewritten and passwords as SHA-256 hashes). Each drift names the resource, the field, the\n" +
			"value expected and the value found. Drift already reported and unchanged is not reported again\n" +
			"unless --all. Exit code 2 when there is drift to report. `belay plan` then `belay apply` restore it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			envs := []string{env}
			if env == "" {
				p, err := spec.Load(f.file)
				if err != nil {
					return err
				}
				envs = p.EnvironmentNames()
			}
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			var reps, shown []infra.DriftReport
			found := 0
			for _, e := range envs {
				var rep infra.DriftReport
				if err := c.do(cmd.Context(), "GET", "/infra/envs/"+url.PathEscape(e)+"/drift", nil, &rep); err != nil {
					return err // nothing was marked reported: reading drift writes nothing
				}
				reps = append(reps, rep)
				show := rep
				if !all {
					show.Drifts = []infra.Drift{}
					for _, d := range rep.Drifts {
						if d.New {
							show.Drifts = append(show.Drifts, d)
						}
					}
				}
				found += len(show.Drifts)
				shown = append(shown, show)
			}
			if err := g.emit(cmd.OutOrStdout(), shown, func(w io.Writer) error { return printDrift(w, shown) }); err != nil {
				return err
			}
			// Only by a token that may record it (deployer in the
			// environment): a viewer's read writes nothing. The server
			// observes again and records what it observed, not a report.
			var who api.Whoami
			if err := c.do(cmd.Context(), "GET", "/whoami", nil, &who); err != nil {
				return err
			}
			id := auth.Identity{Name: who.Name, Role: auth.Role(who.Role), Environments: who.Environments}
			for _, rep := range reps {
				if id.Can(auth.Plan, rep.Environment) != nil {
					if found > 0 {
						fmt.Fprintf(cmd.ErrOrStderr(), "drift in %s not marked reported: %s is a %s there (marking needs the deployer role); it is shown again next time\n",
							rep.Environment, who.Name, who.Role)
					}
					continue
				}
				var changes []infra.DriftChange
				if err := c.do(cmd.Context(), "POST", "/infra/envs/"+url.PathEscape(rep.Environment)+"/drift/record", struct{}{}, &changes); err != nil {
					return fmt.Errorf("the drift of %s was shown but not marked reported (it is shown again next time): %w", rep.Environment, err)
				}
			}
			if found > 0 {
				return &exitError{code: exitDrift, err: fmt.Errorf("%d drifted fields", found), reported: true}
			}
			return nil
		},
	}
	f.add(cmd, false)
	cmd.Flags().StringVar(&env, "env", "", "environment (default every one)")
	cmd.Flags().BoolVar(&all, "all", false, "also report drift reported before")
	cmd.AddCommand(newDriftAckCmd(g))
	return cmd
}

func newDriftAckCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var env string
	cmd := &cobra.Command{
		Use:   "ack --env E KIND/NAME",
		Short: "Acknowledge a resource's drift as it is now, so that releases into E go through (approver role; audited)",
		Long: "belay drift ack acknowledges the drift a resource has now (as belay drift prints it, KIND/NAME).\n" +
			"The release path's Infrastructure Plan check then lets it through until the drift changes (another\n" +
			"field or value) or goes. The drift stays reported; `belay plan` and `belay apply` restore the resource.\n" +
			"Under protection.approvers only a listed approver may acknowledge; one suffices.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if env == "" {
				return usageError{errors.New("drift ack: --env is required")}
			}
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			var ds []infra.Drift
			if err := c.do(cmd.Context(), "POST", "/infra/envs/"+url.PathEscape(env)+"/drift/ack", api.InfraDriftAckRequest{Resource: args[0], Reason: f.reason}, &ds); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), ds, func(w io.Writer) error {
				for _, d := range ds {
					fmt.Fprintf(w, "acknowledged %s/%s %s: expected %q, found %q\n", d.Kind, d.Name, d.Field, d.Expected, d.Found)
				}
				return nil
			})
		},
	}
	f.add(cmd, true)
	cmd.Flags().StringVar(&env, "env", "", "environment of the resource")
	return cmd
}

func printDrift(w io.Writer, reps []infra.DriftReport) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	n := 0
	for _, r := range reps {
		for _, d := range r.Drifts {
			if n == 0 {
				fmt.Fprintln(tw, "ENVIRONMENT\tRESOURCE\tFIELD\tEXPECTED\tFOUND")
			}
			n++
			fmt.Fprintf(tw, "%s\t%s/%s\t%s\t%q\t%q\n", r.Environment, d.Kind, d.Name, d.Field, d.Expected, d.Found)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range reps {
		if len(r.Drifts) == 0 {
			fmt.Fprintf(w, "%s: no new drift in %d resources\n", r.Environment, r.Checked)
		}
	}
	return nil
}

func newUnlockCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var env string
	cmd := &cobra.Command{
		Use:   "unlock --env E --reason TEXT",
		Short: "Release an environment's infrastructure lock held by a dead apply (admin role; audited)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if env == "" {
				return usageError{errors.New("unlock: --env is required")}
			}
			if strings.TrimSpace(f.reason) == "" {
				return usageError{errors.New("unlock: --reason is required (kept in the audit log)")}
			}
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			var u api.InfraUnlocked
			if err := c.do(cmd.Context(), "POST", "/infra/envs/"+url.PathEscape(env)+"/unlock", api.InfraUnlockRequest{Reason: f.reason}, &u); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), u, func(w io.Writer) error {
				if u.Holder == "" {
					_, err := fmt.Fprintf(w, "%s was not locked\n", env)
					return err
				}
				_, err := fmt.Fprintf(w, "%s unlocked (was held by %q)\n", env, u.Holder)
				return err
			})
		},
	}
	f.add(cmd, true)
	cmd.Flags().StringVar(&env, "env", "", "environment to unlock")
	return cmd
}

// readTofuPlan reads a tofu plan's JSON: a file, or a directory holding
// plan.json or tfplan.json; a directory holding only a binary plan
// (tfplan) is converted with `tofu show -json` when tofu is on PATH.
func readTofuPlan(ctx context.Context, path string) (*api.TofuPlanFile, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("tofu plan: %w", err)
	}
	if !fi.IsDir() {
		b, err := os.ReadFile(abs)
		if err != nil {
			return nil, fmt.Errorf("tofu plan: %w", err)
		}
		return &api.TofuPlanFile{Source: abs, JSON: b}, nil
	}
	for _, name := range tofu.PlanFiles {
		if b, err := os.ReadFile(filepath.Join(abs, name)); err == nil {
			return &api.TofuPlanFile{Source: filepath.Join(abs, name), JSON: b}, nil
		}
	}
	bin := filepath.Join(abs, "tfplan")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s holds no plan.json, tfplan.json or tfplan: in it, run `tofu plan -out=tfplan && tofu show -json tfplan > plan.json`", abs)
	}
	exe, err := exec.LookPath("tofu")
	if err != nil {
		if exe, err = exec.LookPath("terraform"); err != nil {
			return nil, fmt.Errorf("%s holds a binary plan (tfplan) and neither tofu nor terraform is on PATH: convert it where one is, `tofu show -json tfplan > %s`",
				abs, filepath.Join(abs, "plan.json"))
		}
	}
	show := exec.CommandContext(ctx, exe, "show", "-json", "tfplan")
	show.Dir = abs
	var stderr strings.Builder
	show.Stderr = &stderr
	b, err := show.Output()
	if err != nil {
		return nil, fmt.Errorf("%s show -json tfplan in %s: %w: %s", filepath.Base(exe), abs, err, strings.TrimSpace(stderr.String()))
	}
	return &api.TofuPlanFile{Source: bin, JSON: b}, nil
}
