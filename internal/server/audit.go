package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/audit"
	"github.com/belay-dev/belay/internal/auth"
	"github.com/belay-dev/belay/internal/orchestrate"
	"github.com/belay-dev/belay/internal/store"
)

// maxAuditPage is the most entries GET /api/v1/audit answers at once.
const maxAuditPage = 10000

// sealAudit gives entries from before leaf hashes were kept theirs, then
// signs a checkpoint of the log as the server starts. A log that fails
// verification is logged, not sealed: the server still serves, and
// belay audit verify says what is wrong.
func (s *Server) sealAudit(ctx context.Context) {
	if n, err := s.d.Store.SealAudit(ctx); err != nil {
		s.d.Logger.Error("audit log not sealed", "err", err)
		return
	} else if n > 0 {
		s.d.Logger.Info("audit entries from before leaf hashes sealed", "entries", n)
	}
	if _, err := audit.Seal(ctx, s.d.Store, s.d.AuditKey, s.d.Now().UTC()); err != nil {
		s.d.Logger.Error("audit checkpoint not signed", "err", err)
	}
}

func (s *Server) getAudit(r *http.Request) (any, error) {
	if err := s.allow(r, auth.Read, ""); err != nil {
		return nil, err
	}
	q := r.URL.Query()
	after, limit := int64(0), 100
	var err error
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
			return nil, fmt.Errorf("%w: after=%q: give an entry ID (0 or more)", orchestrate.ErrBadRequest, v)
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > maxAuditPage {
			return nil, fmt.Errorf("%w: limit=%q: give 1 to %d", orchestrate.ErrBadRequest, v, maxAuditPage)
		}
	}
	es, err := s.d.Store.AuditSince(r.Context(), after, limit)
	out := make([]api.AuditEntry, 0, len(es))
	for _, e := range es {
		out = append(out, auditEntry(e))
	}
	return out, err
}

func auditEntry(e store.AuditEntry) api.AuditEntry {
	return api.AuditEntry{ID: e.ID, At: e.At, Actor: e.Actor, Action: e.Action, Subject: e.Subject, Reason: e.Reason, Detail: e.Detail, Leaf: e.Leaf}
}

// getAuditCheckpoint signs, stores and answers a checkpoint of the log as
// it is now.
func (s *Server) getAuditCheckpoint(r *http.Request) (any, error) {
	if err := s.allow(r, auth.Read, ""); err != nil {
		return nil, err
	}
	c, err := audit.Seal(r.Context(), s.d.Store, s.d.AuditKey, s.d.Now().UTC())
	if errors.Is(err, audit.ErrTampered) {
		return nil, fmt.Errorf("%w: %v", store.ErrConflict, err)
	}
	if err != nil {
		return nil, err
	}
	return s.checkpointView(c), nil
}

func (s *Server) checkpointView(c store.AuditCheckpoint) api.AuditCheckpoint {
	var root [32]byte
	copy(root[:], c.Root)
	return api.AuditCheckpoint{Size: c.Size, Root: audit.Checkpoint{Root: root}.Root.String(), Note: c.Note, Key: s.d.AuditKey.Public}
}

// postAuditVerify verifies the whole log, against the checkpoint stored
// last and the one the body gives (a note saved earlier).
func (s *Server) postAuditVerify(r *http.Request) (any, error) {
	var req api.AuditVerifyRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := s.allow(r, auth.Read, ""); err != nil {
		return nil, err
	}
	var notes []string
	if req.Checkpoint != "" {
		notes = append(notes, req.Checkpoint)
	}
	c, probs, err := audit.Check(r.Context(), s.d.Store, s.d.AuditKey.Verifier, notes...)
	if errors.Is(err, audit.ErrCheckpoint) {
		return nil, fmt.Errorf("%w: the checkpoint given: %v", orchestrate.ErrBadRequest, err)
	}
	if err != nil {
		return nil, err
	}
	out := api.AuditVerify{OK: len(probs) == 0, Size: c.Size, Root: c.Root.String(), Problems: []api.AuditProblem{}}
	for _, p := range probs {
		out.Problems = append(out.Problems, api.AuditProblem{ID: p.ID, Position: p.Position, Kind: string(p.Kind), Message: p.Message})
	}
	return out, nil
}

// getAuditExport streams the log as JSON lines, each entry with its leaf
// hash, then the checkpoint stored last, for verifying elsewhere.
func (s *Server) getAuditExport(w http.ResponseWriter, r *http.Request) {
	if err := s.allow(r, auth.Read, ""); err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	latest, err := s.d.Store.LatestCheckpoint(r.Context())
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		writeError(w, statusOf(err), err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	for after := int64(0); ; {
		es, err := s.d.Store.AuditSince(r.Context(), after, maxAuditPage)
		if err != nil {
			s.d.Logger.Error("audit export", "err", err)
			return // the missing checkpoint line tells the reader the export is cut short
		}
		for _, e := range es {
			ae := auditEntry(e)
			_ = enc.Encode(api.AuditExportLine{Entry: &ae})
			after = e.ID
		}
		if len(es) < maxAuditPage {
			break
		}
	}
	if latest.Note != "" {
		cp := s.checkpointView(latest)
		_ = enc.Encode(api.AuditExportLine{Checkpoint: &cp})
	}
}
