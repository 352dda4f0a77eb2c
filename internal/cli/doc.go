package cli

import (
	"fmt"
	"github.com/belay-dev/belay/internal/ci"
	"github.com/belay-dev/belay/internal/infra/parity"
	"io"
	"reflect"
	"strings"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/demo"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/spf13/cobra"
)

// jsonOutput is what a verb prints under -o json: a value of a type (its
// fields are listed from the type, so the page cannot drift from the code),
// and how it is printed.
type jsonOutput struct {
	value any
	note  string
}

// jsonOutputs documents every verb's -o json answer by command path.
var jsonOutputs = map[string]jsonOutput{
	"belay validate":         {ValidateResult{}, "an object, also when the file is invalid (then `valid` is false and `errors` lists the problems, exit 1)"},
	"belay init":             {InitResult{}, "an object"},
	"belay schema":           {nil, "the JSON Schema of belay.yaml, whatever -o says"},
	"belay version":          {VersionInfo{}, "an object"},
	"belay keys create":      {artifact.KeyFiles{}, "an object"},
	"belay keys list":        {[]KeyListEntry{}, "an array of key pairs, by name"},
	"belay build":            {artifact.Published{}, "an object"},
	"belay artifacts list":   {[]artifact.Info{}, "an array"},
	"belay artifacts show":   {ArtifactShow{}, "an object"},
	"belay artifacts verify": {ArtifactShow{}, "an object"},
	"belay artifacts copy":   {ArtifactCopied{}, "an object"},
	"belay k8s manifests":    {nil, "Kubernetes YAML, whatever -o says"},
	"belay up":               {api.Ready{}, "an object"},
	"belay release":          {api.ReleaseAnswer{}, "an object"},
	"belay status":           {[]api.ServiceStatus{}, "an array, one element per service"},
	"belay history":          {[]api.RolloutView{}, "an array, newest first"},
	"belay dora":             {api.DORAReport{}, "an object; a figure with no data has n 0 and null values, never 0"},
	"belay slo":              {api.SLOReport{}, "an object; a burn rate or budget with no requests to measure is null, never 0"},
	"belay parity":           {parity.Report{}, "an object, also when the environments differ (then `equal` is false, exit 1, and no error object follows); `graphs` with --graphs"},
	"belay slo rules":        {nil, "Prometheus rules in YAML, whatever -o says (with --out, a line naming the file)"},
	"belay explain":          {api.RolloutView{}, "an object with every transition"},
	"belay wait":             {api.RolloutView{}, "an object; with --release, an `api.ReleaseView` instead"},
	"belay queue":            {[]api.QueueView{}, "an array"},
	"belay queue cancel":     {api.QueueView{}, "an object"},
	"belay ci run":           {ci.Report{}, "the evidence bundle: an object with every step's result, findings and timings"},
	"belay ci export":        {nil, "the workflow file (YAML), whatever -o says"},
	"belay secrets get":      {api.SecretValue{}, "an object with the value"},
	"belay secrets list":     {api.SecretList{}, "an object with names only"},
	"belay secrets rm":       {api.SecretChange{}, "an object"},
	"belay secrets set":      {api.SecretChange{}, "an object with the value's fingerprint, never the value"},
	"belay flags list":       {[]api.FlagView{}, "an array, by environment then flag; an override of a flag belay.yaml no longer defines has `file` null"},
	"belay flags get":        {api.FlagView{}, "an object"},
	"belay flags set":        {api.FlagChange{}, "an object: the flag's setting before and after, and the flag as it now serves"},
	"belay flags disable":    {api.FlagChange{}, "an object: the flag's setting before and after, and the flag as it now serves"},
	"belay flags enable":     {api.FlagChange{}, "an object: the flag's setting before and after, and the flag as it now serves"},
	"belay flags reset":      {api.FlagChange{}, "an object: the flag's setting before and after, and the flag as it now serves"},
	"belay flags diff":       {[]api.FlagView{}, "an array of the flags whose override disagrees with belay.yaml (`differences`) or cannot apply (`problem`); empty when they agree"},
	"belay token create":     {api.TokenCreated{}, "an object with the new token's secret, shown this once"},
	"belay token list":       {[]api.TokenView{}, "an array, never with secrets"},
	"belay token revoke":     {api.TokenView{}, "an object"},
	"belay token whoami":     {api.Whoami{}, "an object"},
	"belay audit list":       {[]api.AuditEntry{}, "an array, oldest first, each entry with its leaf hash"},
	"belay audit checkpoint": {api.AuditCheckpoint{}, "an object with the signed note"},
	"belay audit verify":     {api.AuditVerify{}, "an object, also when verification fails (then `ok` is false and `problems` lists them, exit 1)"},
	"belay audit export":     {nil, "one JSON object per line, whatever -o says: `{\"entry\": …}` for each entry, then `{\"checkpoint\": …}`"},
	"belay pause":            {rollout.State{}, "the rollout's state after the command"},
	"belay resume":           {rollout.State{}, "the rollout's state after the command"},
	"belay promote":          {rollout.State{}, "the rollout's state after the command"},
	"belay abort":            {rollout.State{}, "the rollout's state after the command"},
	"belay approve":          {rollout.State{}, "the rollout's state after the command"},
	"belay rollback":         {api.RollbackAnswer{}, "an object"},
	"belay events":           {nil, "one JSON object per line, in the case study's event shape"},
	"belay logs":             {LogLine{}, "one JSON object per log line"},
	"belay demo":             {demo.Summary{}, "an object at the end, instead of the story"},
	"belay gate migrations":  {MigrationsReport{}, "an object, also when the migrations give contract (then exit 1); a file that is missing or does not parse exits 2 with an error object"},
	"belay gate secrets":     {SecretsReport{}, "an object, also when secrets are found (exit 1); `findings` is empty when none are, each secret redacted"},
	"belay gate vulns":       {VulnsReport{}, "an object, also when a finding blocks (then exit 1); each of `findings` has its `verdict` (block, warn, waived) and `why`; a report, policy or scan that cannot be read exits 2 with an error object"},
	"belay gate scan":        {VulnsReport{}, "an object, as for `belay gate vulns`"},
}

// WriteCLIDoc writes docs/cli.md from the command tree.
func WriteCLIDoc(w io.Writer) error {
	root := NewRoot(strings.NewReader(""), io.Discard, io.Discard)
	var b strings.Builder
	b.WriteString(cliDocIntro)
	b.WriteString("\n## Global flags\n\n```\n" + root.PersistentFlags().FlagUsagesWrapped(100) + "```\n")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			writeVerb(&b, sub)
			walk(sub)
		}
	}
	walk(root)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeVerb(b *strings.Builder, c *cobra.Command) {
	fmt.Fprintf(b, "\n## %s\n\n%s.\n\n```\n%s\n```\n", c.CommandPath(), c.Short, c.UseLine())
	if c.Long != "" {
		fmt.Fprintf(b, "\n%s\n", c.Long)
	}
	if c.Example != "" {
		fmt.Fprintf(b, "\nExamples:\n\n```\n%s\n```\n", c.Example)
	}
	if fl := c.LocalNonPersistentFlags(); fl.HasAvailableFlags() {
		fmt.Fprintf(b, "\nFlags:\n\n```\n%s```\n", fl.FlagUsagesWrapped(100))
	}
	if !c.Runnable() {
		return
	}
	out, ok := jsonOutputs[c.CommandPath()]
	switch {
	case !ok:
		b.WriteString("\n`-o json`: prints text (it reports progress, not data); its errors are JSON like every verb's.\n")
	case out.value == nil:
		fmt.Fprintf(b, "\n`-o json`: %s.\n", out.note)
	default:
		t := reflect.TypeOf(out.value)
		fmt.Fprintf(b, "\n`-o json`: %s. `%s` fields: %s.\n", out.note, strings.TrimPrefix(t.String(), "[]"), fieldList(t))
	}
}

func fieldList(t reflect.Type) string {
	names := api.FieldNames(t)
	for i, n := range names {
		names[i] = "`" + n + "`"
	}
	return strings.Join(names, ", ")
}

const cliDocIntro = `# belay CLI reference

<!-- Generated from the cobra commands by TestCLIDocCurrent; refresh with
     go test ./internal/cli -run TestCLIDocCurrent -update -->

Every verb takes ` + "`-o json`" + `. Its answer is the JSON value described under the verb, on stdout.

**Errors.** A verb that fails exits non-zero. With ` + "`-o text`" + ` (the default) it prints
` + "`belay: <message>`" + ` on stderr. With ` + "`-o json`" + ` it prints instead, on **stdout** (where a script
already reads the answer), one object:

` + "```json" + `
{"error": {"code": "no_server", "message": "no belay server is running for /src/.belay (no ready-file there)", "hint": "start one with ` + "`belay up`" + `, or set BELAY_SERVER"}}
` + "```" + `

` + "`code`" + ` is one of ` + "`usage`" + ` (a flag or argument), ` + "`no_server`" + `, ` + "`unsafe`" + ` (a refused key path),
` + "`failed`" + ` (wait or verify answered no), ` + "`invalid`" + ` (validate), ` + "`error`" + `, or the server's answer:
` + "`malformed_request`" + ` (400), ` + "`not_found`" + ` (404), ` + "`conflict`" + ` (409), ` + "`needs_force`" + ` (412),
` + "`too_large`" + ` (413), ` + "`unsupported_media_type`" + ` (415), ` + "`refused`" + ` (422), ` + "`server_error`" + ` (5xx).
` + "`hint`" + ` says what to do, and is empty when the message already does. ` + "`belay validate -o json`" + ` is the
one exception: its answer carries the problems, so no error object follows it.

**` + "`--state`" + `.** Only ` + "`belay server`" + `, ` + "`belay build`" + ` and ` + "`belay up`" + ` open the state store. There
` + "`--state`" + ` (or ` + "`BELAY_STATE`" + `) must be a SQLite file path ending in .db, .sqlite or .sqlite3 (or an
existing file), ` + "`sqlite:///absolute/path`" + `, or ` + "`postgres://`" + ` / ` + "`postgresql://`" + `; anything else is an
error naming the accepted forms. Every other verb refuses an explicit ` + "`--state`" + ` rather than ignore it
(client verbs read the server's store through its API) and ignores ` + "`BELAY_STATE`" + ` in the environment.
` + "`belay agent --state`" + ` is the agent's own state directory.
`
