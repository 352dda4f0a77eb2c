package store

import "time"

// Project is a validated belay.yaml as far as the state cares: its name, the
// digest of the spec that validated, its services and its environments in
// promotion order.
type Project struct {
	Name         string
	SpecDigest   string
	Services     []Service
	Environments []string // in promotion order
	ValidatedAt  time.Time
}

// Service is a deployable unit of a project.
type Service struct {
	Name string
}
