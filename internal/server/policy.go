package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/belay-dev/belay/internal/store"
)

// Policy changes: an environment's protection lives in belay.yaml, which
// the server reads afresh for each use, so an edit takes effect without
// an API call to audit. The server compares each environment's protection
// with the last one the audit log recorded, at start and before every
// write it serves, and appends a policy.change entry (before and after)
// for each difference; a write whose policy change cannot be audited is
// refused.

// policyLog is the protection of each environment as the audit log has it.
type policyLog struct {
	mu     sync.Mutex
	loaded bool
	known  map[string]json.RawMessage // "null" or absent: none
}

type policyDetail struct {
	Environment string          `json:"environment"`
	Before      json.RawMessage `json:"before"`
	After       json.RawMessage `json:"after"`
}

// auditPolicy appends an entry for every environment whose protection
// differs from the last recorded. A belay.yaml that does not load is left
// to the request that needs it.
func (s *Server) auditPolicy(ctx context.Context) error {
	p, err := s.Project()
	if err != nil {
		return nil
	}
	l := &s.policy
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.loaded {
		if err := l.load(ctx, s.d.Store); err != nil {
			return err
		}
	}
	now := map[string]json.RawMessage{}
	for _, e := range p.Environments {
		if e.Protection != nil {
			now[e.Name], _ = json.Marshal(e.Protection)
		}
	}
	envs := p.EnvironmentNames()
	for env := range l.known {
		if !slices.Contains(envs, env) {
			envs = append(envs, env) // removed from belay.yaml: its protection is gone
		}
	}
	for _, env := range envs {
		before, after := orNull(l.known[env]), orNull(now[env])
		if string(before) == string(after) {
			continue
		}
		detail, _ := json.Marshal(policyDetail{Environment: env, Before: before, After: after})
		_, err := s.d.Store.AppendAudit(ctx, store.AuditEntry{At: s.d.Now().UTC(), Actor: "belay", Action: "policy.change",
			Subject: "policy/" + env, Reason: "belay.yaml's protection of " + env + " changed", Detail: detail})
		if err != nil {
			return fmt.Errorf("the change of %s's protection in belay.yaml could not be audited: %w", env, err)
		}
		l.known[env] = after
	}
	return nil
}

func orNull(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}

// load reads the last recorded protection of every environment.
func (l *policyLog) load(ctx context.Context, st store.Store) error {
	l.known = map[string]json.RawMessage{}
	const page = 10000
	for after := int64(0); ; {
		es, err := st.AuditSince(ctx, after, page)
		if err != nil {
			return fmt.Errorf("read the audit log for policy changes: %w", err)
		}
		for _, e := range es {
			var d policyDetail
			if e.Action == "policy.change" && json.Unmarshal(e.Detail, &d) == nil {
				l.known[d.Environment] = d.After
			}
			after = e.ID
		}
		if len(es) < page {
			break
		}
	}
	l.loaded = true
	return nil
}

// beforeWrite runs before a write: policy changes are audited first.
func (s *Server) beforeWrite(r *http.Request) error {
	if r.Method != http.MethodPost {
		return nil
	}
	if err := s.auditPolicy(r.Context()); err != nil {
		return fmt.Errorf("not done: %w", err)
	}
	return nil
}
