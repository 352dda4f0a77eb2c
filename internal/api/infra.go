package api

// InfraPlanRequest asks for a plan of an environment's infrastructure.
type InfraPlanRequest struct {
	Reason string `json:"reason,omitempty"`
	// Tofu is an OpenTofu / Terraform plan as `tofu show -json` prints it,
	// shown beside belay's plan and bound to its approval.
	Tofu *TofuPlanFile `json:"tofu,omitempty"`
}

// TofuPlanFile is a tofu plan's JSON as read by the client, with where
// it was read from.
type TofuPlanFile struct {
	Source string `json:"source"`
	JSON   []byte `json:"json"`
}

// InfraDriftAckRequest acknowledges a resource's drift.
type InfraDriftAckRequest struct {
	Resource string `json:"resource"` // kind/name, as belay drift prints it
	Reason   string `json:"reason,omitempty"`
}

// InfraApproveRequest approves a stored plan.
type InfraApproveRequest struct {
	Reason string `json:"reason,omitempty"`
}

// InfraApplyRequest applies an approved plan to its environment.
type InfraApplyRequest struct {
	Environment string `json:"environment"`
	// DeleteProtected allows the plan's deletions of protected resources
	// (audited with Reason, then required).
	DeleteProtected bool   `json:"delete_protected,omitempty"`
	Reason          string `json:"reason,omitempty"`
	// Tofu is the plan's tofu plan read again, for apply to check it did
	// not change since the approval.
	Tofu *TofuPlanFile `json:"tofu,omitempty"`
}

// InfraUnlockRequest releases an environment's apply lock.
type InfraUnlockRequest struct {
	Reason string `json:"reason"`
}

// InfraUnlocked is the answer to an unlock: the holder released ("" when
// the lock was free).
type InfraUnlocked struct {
	Environment string `json:"environment"`
	Holder      string `json:"holder"`
}

// InfraApproved is the answer to an approval.
type InfraApproved struct {
	ID          int64  `json:"id"`
	Environment string `json:"environment"`
	Hash        string `json:"hash"`
	State       string `json:"state"`
	ApprovedBy  string `json:"approved_by"`
	// Approvals are the approvers so far (the environment's protection
	// may ask for more than one); TofuHash the tofu plan's hash, if any.
	Approvals []string `json:"approvals"`
	TofuHash  string   `json:"tofu_hash,omitempty"`
}

// BackupRequest takes a backup of an environment's databases now.
type BackupRequest struct {
	// Service: one service's database; empty: every one with a policy.
	Service string `json:"service,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// RestoreRequest restores a backup of a service's database.
type RestoreRequest struct {
	Service string `json:"service"`
	// Backup is its ID; empty: the newest.
	Backup string `json:"backup,omitempty"`
	// Into names the new database (default <db>_restore_<time>).
	Into string `json:"into,omitempty"`
	// Replace puts the restored database in place of the live one (kept
	// under another name); it needs the admin role and Reason.
	Replace bool   `json:"replace,omitempty"`
	Reason  string `json:"reason,omitempty"`
}
