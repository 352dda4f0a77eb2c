package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/belay-dev/belay/internal/release"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/target"
)

// Handler is the HTTP API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("POST /api/v1/releases", s.handle(s.postRelease))
	mux.HandleFunc("POST /api/v1/releases/{id}/approve", s.handle(s.postApprove))
	mux.HandleFunc("GET /api/v1/rollouts", s.handle(s.getRollouts))
	mux.HandleFunc("GET /api/v1/rollouts/{id}", s.handle(s.getRollout))
	mux.HandleFunc("POST /api/v1/rollouts/{id}/{command}", s.handle(s.postCommand))
	mux.HandleFunc("POST /api/v1/rollback", s.handle(s.postRollback))
	mux.HandleFunc("GET /api/v1/status", s.handle(s.getStatus))
	mux.HandleFunc("GET /api/v1/history", s.handle(s.getHistory))
	mux.HandleFunc("GET /api/v1/events", s.getEvents)
	return mux
}

type apiFunc func(r *http.Request) (any, error)

// handle writes a handler's answer as JSON and maps sentinel errors to statuses.
func (s *Server) handle(f apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := f(r)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			code := statusOf(err)
			if code >= 500 {
				s.d.Logger.Error("api", "path", r.URL.Path, "err", err)
			}
			w.WriteHeader(code)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(v)
	}
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, rollout.ErrNotFound), errors.Is(err, release.ErrNoService):
		return http.StatusNotFound
	case errors.Is(err, store.ErrConflict), errors.Is(err, rollout.ErrConflict), errors.Is(err, release.ErrMismatch), errors.Is(err, ErrOutOfOrder):
		return http.StatusConflict
	case errors.Is(err, ErrBadRequest), errors.Is(err, release.ErrUnsafe), errors.Is(err, release.ErrUnknown),
		errors.Is(err, rollout.ErrConfig), errors.Is(err, rollout.ErrNotAllowed), errors.Is(err, rollout.ErrContract):
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}

func decode(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: request body: %v", ErrBadRequest, err)
	}
	return nil
}

func (s *Server) postRelease(r *http.Request) (any, error) {
	var req ReleaseRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.PlanYAML == "" && (req.Service == "" || req.Version == "") {
		return nil, fmt.Errorf("%w: service and version are required", ErrBadRequest)
	}
	return s.CreateRelease(r.Context(), req)
}

// CommandRequest is a person's command over the API.
type CommandRequest struct {
	Actor  string `json:"actor"`
	Reason string `json:"reason"`
	Env    string `json:"environment,omitempty"`
	To     string `json:"to,omitempty"`
}

func (s *Server) postApprove(r *http.Request) (any, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: release id %q is not a number", ErrBadRequest, r.PathValue("id"))
	}
	var req CommandRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.Actor == "" || req.Env == "" {
		return nil, fmt.Errorf("%w: an approval needs an actor and an environment", ErrBadRequest)
	}
	return s.Approve(r.Context(), id, req.Env, req.Actor, req.Reason)
}

func (s *Server) postCommand(r *http.Request) (any, error) {
	var req CommandRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	kind := rollout.CommandKind(r.PathValue("command"))
	switch kind {
	case rollout.CmdPause, rollout.CmdResume, rollout.CmdPromote, rollout.CmdAbort:
	default:
		return nil, fmt.Errorf("%w: unknown command %q: use pause, resume, promote or abort", ErrBadRequest, kind)
	}
	return s.Command(r.Context(), r.PathValue("id"), rollout.Command{Kind: kind, Actor: req.Actor, Reason: req.Reason})
}

// RollbackRequest asks for a fast-path rollback.
type RollbackRequest struct {
	CommandRequest
	Service        string `json:"service"`
	AcceptContract bool   `json:"accept_contract,omitempty"`
}

func (s *Server) postRollback(r *http.Request) (any, error) {
	var req RollbackRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return s.Rollback(r.Context(), req)
}

// RolloutView is a rollout with its history, for status and explain.
type RolloutView struct {
	ID          int64                `json:"id"`
	Release     int64                `json:"release"`
	Service     string               `json:"service"`
	Environment string               `json:"environment"`
	Version     string               `json:"version"`
	Phase       string               `json:"phase"`
	Terminal    bool                 `json:"terminal"`
	State       json.RawMessage      `json:"state,omitempty"`
	Transitions []rollout.Transition `json:"transitions,omitempty"`
	CreatedAt   time.Time            `json:"created_at"`
	UpdatedAt   time.Time            `json:"updated_at"`
}

func view(r store.Rollout) RolloutView {
	return RolloutView{ID: r.ID, Release: r.ReleaseID, Service: r.Service, Environment: r.Environment, Version: r.Version,
		Phase: r.Phase, Terminal: r.Terminal, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func (s *Server) getRollouts(r *http.Request) (any, error) {
	q := r.URL.Query()
	rows, err := s.d.Store.ListRollouts(r.Context(), store.RolloutFilter{Active: q.Get("active") == "1", Service: q.Get("service"), Environment: q.Get("environment")})
	out := make([]RolloutView, 0, len(rows))
	for _, row := range rows {
		out = append(out, view(row))
	}
	return out, err
}

func (s *Server) getRollout(r *http.Request) (any, error) {
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	return s.Explain(r.Context(), id)
}

// Explain returns a rollout with every transition and the evidence behind it.
func (s *Server) Explain(ctx context.Context, id int64) (RolloutView, error) {
	row, err := s.d.Store.GetRollout(ctx, id)
	if err != nil {
		return RolloutView{}, err
	}
	v := view(row)
	v.State = row.State
	ts, err := s.d.Store.Transitions(ctx, id)
	if err != nil {
		return v, err
	}
	for _, t := range ts {
		var rt rollout.Transition
		if err := json.Unmarshal(t.Evidence, &rt); err != nil {
			rt = rollout.Transition{Seq: t.Seq, At: t.At, From: rollout.Phase(t.From), To: rollout.Phase(t.To), Reason: t.Reason}
		}
		v.Transitions = append(v.Transitions, rt)
	}
	return v, nil
}

// EnvStatus is one service in one environment.
type EnvStatus struct {
	Environment string           `json:"environment"`
	Stable      string           `json:"stable,omitempty"`
	Rollout     *RolloutView     `json:"rollout,omitempty"`
	Observed    *target.Observed `json:"observed,omitempty"`
	ObserveErr  string           `json:"observe_error,omitempty"`
}

// ServiceStatus is one service across its environments.
type ServiceStatus struct {
	Service      string      `json:"service"`
	Environments []EnvStatus `json:"environments"`
}

func (s *Server) getStatus(r *http.Request) (any, error) {
	p, err := s.Project()
	if err != nil {
		return nil, err
	}
	names := p.ServiceNames()
	if only := r.URL.Query().Get("service"); only != "" {
		if p.Service(only) == nil {
			return nil, fmt.Errorf("%w: unknown service %q", store.ErrNotFound, only)
		}
		names = []string{only}
	}
	var out []ServiceStatus
	for _, svc := range names {
		ss := ServiceStatus{Service: svc}
		for _, env := range p.EnvironmentNames() {
			ss.Environments = append(ss.Environments, s.envStatus(r.Context(), svc, env))
		}
		out = append(out, ss)
	}
	return out, nil
}

func (s *Server) envStatus(ctx context.Context, svc, env string) EnvStatus {
	es := EnvStatus{Environment: env}
	if st, err := s.d.Store.Stable(ctx, svc, env); err == nil {
		es.Stable = st.Version
	}
	if rows, err := s.d.Store.ListRollouts(ctx, store.RolloutFilter{Active: true, Service: svc, Environment: env}); err == nil && len(rows) > 0 {
		v := view(rows[0])
		es.Rollout = &v
	}
	obs, err := s.d.Target.Observe(ctx, env, svc)
	if err != nil && !errors.Is(err, target.ErrNotFound) {
		es.ObserveErr = err.Error()
	} else if err == nil {
		es.Observed = &obs
	}
	return es
}

func (s *Server) getHistory(r *http.Request) (any, error) {
	q := r.URL.Query()
	if q.Get("service") == "" || q.Get("environment") == "" {
		return nil, fmt.Errorf("%w: history needs service and environment", ErrBadRequest)
	}
	rows, err := s.d.Store.History(r.Context(), q.Get("service"), q.Get("environment"))
	out := make([]RolloutView, 0, len(rows))
	for _, row := range rows {
		out = append(out, view(row))
	}
	return out, err
}

// getEvents lists events after ?after=ID; with ?follow=1 it streams them as
// server-sent events until the client goes away.
func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) {
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	if r.URL.Query().Get("follow") != "1" {
		s.handle(func(r *http.Request) (any, error) {
			evs, err := s.d.Store.EventsSince(r.Context(), after, 10000)
			out := make([]json.RawMessage, 0, len(evs))
			for _, e := range evs {
				out = append(out, e.Data)
			}
			return out, err
		})(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	flusher, _ := w.(http.Flusher)
	for {
		wake := s.notify.wait()
		evs, err := s.d.Store.EventsSince(r.Context(), after, 1000)
		if err != nil {
			return
		}
		for _, e := range evs {
			fmt.Fprintf(w, "id: %d\ndata: %s\n\n", e.ID, e.Data)
			after = e.ID
		}
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-wake:
		case <-time.After(15 * time.Second):
			fmt.Fprint(w, ": keep-alive\n\n")
		}
	}
}
