// Package spec is belay.yaml: the model of a project (pipeline, service_stack,
// artifacts, services, environments) and of the seed's release_plan, parsed
// from YAML with positions so that every problem is reported as
// file:line:column, field path and what was expected. It also holds the
// rollback trigger grammar and the JSON Schema generated from the model.
package spec
