// Package auth is who may do what through belay's API: API tokens (their
// secrets, shown once and kept only as hashes), roles ordered viewer <
// deployer < approver < admin, each scoped to environments, and the
// permission each API action needs.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Errors the API maps to 401 and 403.
var (
	ErrUnauthenticated = errors.New("authentication required")
	ErrDenied          = errors.New("permission denied")
)

// Role is what a token may do, in the environments it is scoped to.
type Role string

// Roles, each allowed what the ones before it are.
const (
	Viewer   Role = "viewer"   // reads status, history, rollouts, events
	Deployer Role = "deployer" // + releases, pause, resume, abort, rollback, queue cancel, flag changes
	Approver Role = "approver" // + approvals and manual promotion
	Admin    Role = "admin"    // + tokens
)

// Roles lists the roles from least to most.
var Roles = []Role{Viewer, Deployer, Approver, Admin}

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !slices.Contains(Roles, r) {
		return "", fmt.Errorf("role %q is unknown: use viewer, deployer, approver or admin", s)
	}
	return r, nil
}

func (r Role) rank() int { return slices.Index(Roles, r) }

// Action is what an API call does.
type Action string

// Actions and the role each needs (see Need).
const (
	Read     Action = "read"
	Release  Action = "release"
	Pause    Action = "pause"
	Resume   Action = "resume"
	Abort    Action = "abort"
	Rollback Action = "rollback"
	Cancel   Action = "cancel" // a queued release
	Approve  Action = "approve"
	Promote  Action = "promote"
	Tokens   Action = "tokens"  // create, list, revoke
	Secrets  Action = "secrets" // set, remove or read a secret's value
	Flags    Action = "flags"   // set, disable, enable or reset a feature flag's override
	Plan     Action = "plan"    // plan an environment's infrastructure (observes its servers)
	Apply    Action = "apply"   // apply an approved infrastructure plan
	Unlock   Action = "unlock"  // release an environment's infrastructure lock another holds
	Backup   Action = "backup"  // take a database backup now, or restore one into a new database
	Replace  Action = "replace" // restore a backup in place of the live database
	// AckDrift acknowledges an environment's infrastructure drift, which
	// the release path then lets through (like an approval).
	AckDrift Action = "ack_drift"
)

// Actions lists every action, for tables and tests.
var Actions = []Action{Read, Release, Pause, Resume, Abort, Rollback, Cancel, Approve, Promote, Tokens, Secrets, Flags, Plan, Apply, Unlock, Backup, Replace, AckDrift}

// Need is the least role an action needs.
func Need(a Action) Role {
	switch a {
	case Read:
		return Viewer
	case Approve, Promote, AckDrift:
		return Approver
	case Tokens, Secrets, Unlock, Replace:
		return Admin
	}
	return Deployer
}

// Identity is who a request comes from: a token's name, role and scope.
type Identity struct {
	Name         string   `json:"name"`
	Role         Role     `json:"role"`
	Environments []string `json:"environments,omitempty"` // none: all
	TokenID      int64    `json:"token_id"`
}

// Scope says where the role applies.
func (id Identity) Scope() string {
	if len(id.Environments) == 0 {
		return "every environment"
	}
	return strings.Join(id.Environments, ", ")
}

// Can reports whether id may do a in env ("" for something that is not
// in one environment, which needs the role in every environment). Reads
// need only a valid token. The error names what was missing.
func (id Identity) Can(a Action, env string) error {
	need := Need(a)
	if a == Read {
		return nil
	}
	where := "every environment"
	if env != "" {
		where = env
	}
	inScope := len(id.Environments) == 0 || env != "" && slices.Contains(id.Environments, env)
	if id.Role.rank() >= need.rank() && inScope {
		return nil
	}
	return fmt.Errorf("%w: %s (%s in %s) may not %s in %s: that needs the %s role in %s",
		ErrDenied, id.Name, id.Role, id.Scope(), a, where, need, where)
}

// Prefix starts every token, so that a leaked one is recognisable (and
// secret scanners can be taught it).
const Prefix = "belay_"

var encoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// secretLen is the length of a token after Prefix: 32 random bytes.
var secretLen = encoding.EncodedLen(32)

// NewToken returns a fresh token and its hash.
func NewToken() (token string, hash []byte, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	token = Prefix + strings.ToLower(encoding.EncodeToString(b))
	h := sha256.Sum256([]byte(token))
	return token, h[:], nil
}

// Hash checks a presented token's shape and returns its hash; what is
// stored is only this.
func Hash(token string) ([]byte, error) {
	rest, ok := strings.CutPrefix(token, Prefix)
	if !ok || len(rest) != secretLen {
		return nil, fmt.Errorf("%w: malformed token: belay tokens are %s followed by %d letters and digits", ErrUnauthenticated, Prefix, secretLen)
	}
	if _, err := encoding.DecodeString(strings.ToUpper(rest)); err != nil {
		return nil, fmt.Errorf("%w: malformed token: belay tokens are %s followed by %d letters and digits", ErrUnauthenticated, Prefix, secretLen)
	}
	h := sha256.Sum256([]byte(token))
	return h[:], nil
}

// Usable says why a stored token may not be used at now, or nil.
func Usable(name string, revoked, expires, now time.Time) error {
	switch {
	case !revoked.IsZero():
		return fmt.Errorf("%w: token %s was revoked at %s: ask an admin for a new one", ErrUnauthenticated, name, revoked.UTC().Format(time.RFC3339))
	case !expires.IsZero() && !now.Before(expires):
		return fmt.Errorf("%w: token %s expired at %s: ask an admin for a new one (belay token create)", ErrUnauthenticated, name, expires.UTC().Format(time.RFC3339))
	}
	return nil
}

// CheckName checks a token's name: it is the actor of everything done
// with the token, so it reads like a person or a system ("alice", "ci").
func CheckName(name string) error {
	if len(name) == 0 || len(name) > 64 {
		return fmt.Errorf("token name %q must be 1 to 64 characters", name)
	}
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || i > 0 && strings.ContainsRune(".-_@", c)
		if !ok {
			return fmt.Errorf("token name %q: use letters, digits and . - _ @ (not first), e.g. ci or alice@example.com", name)
		}
	}
	return nil
}
