package cli

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/infra"
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
	jsonOutputs["belay unlock"] = jsonOutput{api.InfraUnlocked{}, "an object; holder is empty when the lock was free"}
}

// exitDrift is drift's exit code when it finds new drift.
const exitDrift = 2

func newPlanCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var env string
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
			var pl infra.Plan
			if err := c.do(cmd.Context(), "POST", "/infra/envs/"+url.PathEscape(env)+"/plan", api.InfraPlanRequest{Reason: f.reason}, &pl); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), pl, func(w io.Writer) error { return printPlan(w, pl) })
		},
	}
	f.add(cmd, true)
	cmd.Flags().StringVar(&env, "env", "", "environment to plan")
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
				_, err := fmt.Fprintf(w, "plan %d for %s approved by %s (hash %s)\n", a.ID, a.Environment, a.ApprovedBy, short(a.Hash, 12))
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
	var env, plan string
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
			var out infra.Applied
			req := api.InfraApplyRequest{Environment: env, DeleteProtected: delProtected, Reason: f.reason}
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
			var reps []infra.DriftReport
			found := 0
			for _, e := range envs {
				var rep infra.DriftReport
				if err := c.do(cmd.Context(), "GET", "/infra/envs/"+url.PathEscape(e)+"/drift", nil, &rep); err != nil {
					return err
				}
				if !all {
					kept := rep.Drifts[:0]
					for _, d := range rep.Drifts {
						if d.New {
							kept = append(kept, d)
						}
					}
					rep.Drifts = kept
				}
				found += len(rep.Drifts)
				reps = append(reps, rep)
			}
			err = g.emit(cmd.OutOrStdout(), reps, func(w io.Writer) error { return printDrift(w, reps) })
			if err == nil && found > 0 {
				return &exitError{code: exitDrift, err: fmt.Errorf("%d drifted fields", found), reported: true}
			}
			return err
		},
	}
	f.add(cmd, false)
	cmd.Flags().StringVar(&env, "env", "", "environment (default every one)")
	cmd.Flags().BoolVar(&all, "all", false, "also report drift reported before")
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
