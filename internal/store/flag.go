package store

import "time"

// FlagOverride is a run-time change of a flag in one environment, on top of belay.yaml.
type FlagOverride struct {
	Environment, Flag string
	State             string // "", "ENABLED" or "DISABLED"
	Variant           string // "" or a pinned variant
	Actor, Reason     string
	At                time.Time
}
