package event

// Types lists every event type, as belay.yaml's events: filters name them.
var Types = []string{ArtifactPublished, DeploymentStarted, CanaryStep, DeploymentPromoted, DeploymentRolledBack,
	DeploymentFailed, DeploymentPaused, DeploymentResumed, ApprovalRequired, ApprovalGranted, PhaseChanged, FlagChanged, BackupTaken, BackupRestored,
	InfraDrift, InfraDriftResolved}
