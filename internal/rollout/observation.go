package rollout

import (
	"encoding/json"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/target"
)

// ObservationKind is what an Observation reports.
type ObservationKind string

// Observation kinds.
const (
	Tick    ObservationKind = "tick"    // time passed
	Done    ObservationKind = "done"    // every pending action of state Seq succeeded
	Failure ObservationKind = "failure" // a pending action of state Seq failed for good
	Judged  ObservationKind = "verdict" // the analysis judged the canary of state Seq
	Manual  ObservationKind = "command" // a person's command
	// Held: hosts of the target could not be reached (Hosts names them;
	// none: those that were answer again).
	Held ObservationKind = "held"
)

// Observation is an input to Next.
type Observation struct {
	Kind ObservationKind `json:"kind"`
	// Seq is the state the observed actions were issued from; results for
	// an older Seq are stale and ignored.
	Seq int64 `json:"seq,omitempty"`
	// Action is the kind of the action that failed (Failure).
	Action ActionKind `json:"action,omitempty"`
	Error  string     `json:"error,omitempty"`
	// Evidence holds what the actions produced (smoke report, hook output).
	Evidence json.RawMessage   `json:"evidence,omitempty"`
	Verdict  *analysis.Verdict `json:"verdict,omitempty"`
	Command  *Command          `json:"command,omitempty"`
	// Hosts are the target's hosts that cannot be reached (Held).
	Hosts []string `json:"hosts,omitempty"`
}

// CommandKind is a manual command.
type CommandKind string

// Manual commands; each is audited as an override.
const (
	CmdPause    CommandKind = "pause"
	CmdResume   CommandKind = "resume"
	CmdPromote  CommandKind = "promote" // skip the remaining analysis
	CmdAbort    CommandKind = "abort"
	CmdRollback CommandKind = "rollback"
	CmdApprove  CommandKind = "approve"
)

// Command is a person's decision.
type Command struct {
	Kind   CommandKind `json:"kind"`
	Actor  string      `json:"actor"`
	Reason string      `json:"reason"`
	// To is the version a rollback goes to; nil means the previous stable.
	To *target.Version `json:"to,omitempty"`
	// AcceptContract confirms a rollback past a contract migration: the
	// person accepts that the older version runs against the new schema.
	AcceptContract bool `json:"accept_contract,omitempty"`
}

func tickObs() Observation { return Observation{Kind: Tick} }
