package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/auth"
	"github.com/belay-dev/belay/internal/flag"
	"github.com/belay-dev/belay/internal/orchestrate"
	"github.com/belay-dev/belay/internal/release"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/secret"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
)

// Handler is the HTTP API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /metrics", s.getMetrics)
	mux.HandleFunc("POST /api/v1/releases", s.handle(s.postRelease))
	mux.HandleFunc("GET /api/v1/releases/{id}", s.handle(s.getRelease))
	mux.HandleFunc("POST /api/v1/releases/{id}/approve", s.handle(s.postApprove))
	mux.HandleFunc("GET /api/v1/queue", s.handle(s.getQueue))
	mux.HandleFunc("POST /api/v1/queue/{id}/cancel", s.handle(s.postCancelQueued))
	mux.HandleFunc("GET /api/v1/rollouts", s.handle(s.getRollouts))
	mux.HandleFunc("GET /api/v1/rollouts/{id}", s.handle(s.getRollout))
	mux.HandleFunc("POST /api/v1/rollouts/{id}/{command}", s.handle(s.postCommand))
	mux.HandleFunc("POST /api/v1/rollback", s.handle(s.postRollback))
	mux.HandleFunc("GET /api/v1/status", s.handle(s.getStatus))
	mux.HandleFunc("GET /api/v1/history", s.handle(s.getHistory))
	mux.HandleFunc("GET /api/v1/dora", s.handle(s.getDORA))
	mux.HandleFunc("GET /api/v1/slo", s.handle(s.getSLO))
	mux.HandleFunc("GET /api/v1/events", s.getEvents)
	mux.HandleFunc("GET /api/v1/whoami", s.handle(s.getWhoami))
	mux.HandleFunc("POST /api/v1/tokens", s.handle(s.postToken))
	mux.HandleFunc("GET /api/v1/tokens", s.handle(s.getTokens))
	mux.HandleFunc("POST /api/v1/tokens/{id}/revoke", s.handle(s.postRevokeToken))
	mux.HandleFunc("GET /api/v1/audit", s.handle(s.getAudit))
	mux.HandleFunc("GET /api/v1/audit/checkpoint", s.handle(s.getAuditCheckpoint))
	mux.HandleFunc("POST /api/v1/audit/verify", s.handle(s.postAuditVerify))
	mux.HandleFunc("GET /api/v1/audit/export", s.getAuditExport)
	mux.HandleFunc("GET /api/v1/secrets/{env}", s.handle(s.getSecrets))
	mux.HandleFunc("GET /api/v1/secrets/{env}/{name}", s.handle(s.getSecret))
	mux.HandleFunc("POST /api/v1/secrets/{env}/{name}", s.handle(s.postSecret(false)))
	mux.HandleFunc("POST /api/v1/secrets/{env}/{name}/remove", s.handle(s.postSecret(true)))
	mux.HandleFunc("GET /api/v1/flags", s.handle(s.getFlags))
	mux.HandleFunc("GET /api/v1/flags/{env}/{key}", s.handle(s.getFlag))
	mux.HandleFunc("POST /api/v1/flags/{env}/{key}/{op}", s.handle(s.postFlag))
	mux.HandleFunc("POST /api/v1/infra/envs/{env}/plan", s.handle(s.postInfraPlan))
	mux.HandleFunc("GET /api/v1/infra/envs/{env}/drift", s.handle(s.getInfraDrift))
	mux.HandleFunc("POST /api/v1/infra/envs/{env}/drift/record", s.handle(s.postInfraDriftRecord))
	mux.HandleFunc("POST /api/v1/infra/envs/{env}/drift/ack", s.handle(s.postInfraDriftAck))
	mux.HandleFunc("POST /api/v1/infra/envs/{env}/unlock", s.handle(s.postInfraUnlock))
	mux.HandleFunc("GET /api/v1/infra/plans/{id}", s.handle(s.getInfraPlan))
	mux.HandleFunc("POST /api/v1/infra/plans/{id}/approve", s.handle(s.postInfraApprove))
	mux.HandleFunc("POST /api/v1/infra/plans/{id}/apply", s.handle(s.postInfraApply))
	mux.HandleFunc("POST /api/v1/infra/envs/{env}/backups", s.handle(s.postBackup))
	mux.HandleFunc("GET /api/v1/infra/envs/{env}/backups", s.handle(s.getBackups))
	mux.HandleFunc("POST /api/v1/infra/envs/{env}/restore", s.handle(s.postRestore))
	mux.HandleFunc("POST /ofrep/v1/evaluate/flags/{key}", s.postOFREPFlag)
	mux.HandleFunc("POST /ofrep/v1/evaluate/flags", s.postOFREPFlags)
	mux.HandleFunc("GET "+ofrepChanges, s.getOFREPChanges)
	return s.dashboard(mux, sameOrigin(s.authenticate(mux)))
}

// sameOrigin refuses requests a web page on another origin made: those
// whose Origin is not this server's own, or that the browser marks as
// cross-site. The CLI sends neither header, and belay answers no CORS
// preflight, so a page elsewhere can neither change nor read anything.
func sameOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		own := origin == "http://"+r.Host || origin == "https://"+r.Host
		if origin != "" && !own || r.Header.Get("Sec-Fetch-Site") == "cross-site" {
			if origin == "" {
				origin = "a cross-site page"
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf(
				"cross-origin request refused: %s is not this server's origin (http://%s); belay's API answers its own CLI and pages only", origin, r.Host)})
			return
		}
		next.ServeHTTP(w, r)
	})
}

type apiFunc func(r *http.Request) (any, error)

// handle writes a handler's answer as JSON and maps sentinel errors to
// statuses. A POST must carry JSON (or say nothing of its type), and no body
// may be larger than maxBody.
func (s *Server) handle(f apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		v, err := checkBody(r)
		if err == nil {
			err = s.beforeWrite(r)
		}
		if err == nil {
			v, err = f(r)
		}
		if errors.Is(err, orchestrate.ErrPolicy) {
			s.audit(r, identity(r).Name, "denied.policy", err)
		}
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			code := statusOf(err)
			if code >= 500 {
				s.d.Logger.Error("api", "path", r.URL.Path, "err", err)
			}
			w.WriteHeader(code)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": s.redact().String(err.Error())})
			return
		}
		b, err := json.Marshal(v)
		if err != nil {
			s.d.Logger.Error("api: encode answer", "path", r.URL.Path, "err", err)
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if _, reveal := v.(api.SecretValue); !reveal { // the one answer meant to hold a value
			b = s.redact().Bytes(b)
		}
		_, _ = w.Write(append(b, '\n'))
	}
}

// redact hides the secret values the server knows of; nil knows none.
func (s *Server) redact() *secret.Redactor {
	if s.d.Secrets == nil {
		return nil
	}
	return s.d.Secrets.Redactor
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		return http.StatusUnauthorized
	case errors.Is(err, auth.ErrDenied), errors.Is(err, orchestrate.ErrPolicy):
		return http.StatusForbidden
	case errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, errMediaType):
		return http.StatusUnsupportedMediaType
	case errors.Is(err, orchestrate.ErrMalformed), errors.Is(err, spec.ErrVersion):
		return http.StatusBadRequest
	case errors.Is(err, store.ErrNotFound), errors.Is(err, rollout.ErrNotFound), errors.Is(err, flag.ErrUndefined), errors.Is(err, release.ErrNoService), errors.Is(err, release.ErrNoArtifact):
		return http.StatusNotFound
	case errors.Is(err, store.ErrConflict), errors.Is(err, rollout.ErrConflict), errors.Is(err, release.ErrMismatch), errors.Is(err, orchestrate.ErrOutOfOrder):
		return http.StatusConflict
	case errors.Is(err, orchestrate.ErrForce):
		return http.StatusPreconditionFailed
	case errors.Is(err, orchestrate.ErrBadRequest), errors.Is(err, flag.ErrBadChange), errors.Is(err, release.ErrUnsafe), errors.Is(err, release.ErrUnknown),
		errors.Is(err, rollout.ErrConfig), errors.Is(err, rollout.ErrNotAllowed), errors.Is(err, rollout.ErrContract):
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}

func (s *Server) postRelease(r *http.Request) (any, error) {
	var req api.ReleaseRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.PlanYAML == "" && (req.Service == "" || req.Version == "") {
		return nil, fmt.Errorf("%w: service and version are required", orchestrate.ErrBadRequest)
	}
	if err := s.allow(r, auth.Release, s.firstEnvironment(req.Environment)); err != nil {
		return nil, err
	}
	if err := s.checkActor(r, req.Actor); err != nil {
		return nil, err
	}
	req.Actor = identity(r).Name
	return s.orch.Release(r.Context(), req)
}

func (s *Server) getRelease(r *http.Request) (any, error) {
	id, err := pathID(r, "release")
	if err != nil {
		return nil, err
	}
	return s.orch.ReleaseView(r.Context(), id)
}

func (s *Server) postApprove(r *http.Request) (any, error) {
	id, err := pathID(r, "release")
	if err != nil {
		return nil, err
	}
	var req api.CommandRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := s.allow(r, auth.Approve, req.Env); err != nil {
		return nil, err
	}
	if err := s.checkActor(r, req.Actor); err != nil {
		return nil, err
	}
	return s.orch.Approve(r.Context(), id, req.Env, identity(r).Name, req.Reason)
}

func (s *Server) postCommand(r *http.Request) (any, error) {
	var req api.CommandRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	kind := rollout.CommandKind(r.PathValue("command"))
	switch kind {
	case rollout.CmdPause, rollout.CmdResume, rollout.CmdPromote, rollout.CmdAbort:
	default:
		return nil, fmt.Errorf("%w: unknown command %q: use pause, resume, promote or abort", orchestrate.ErrBadRequest, kind)
	}
	id, err := orchestrate.ParseID("rollout", r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	row, err := s.d.Store.GetRollout(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if err := s.allow(r, commandAction[kind], row.Environment); err != nil {
		return nil, err
	}
	if err := s.checkActor(r, req.Actor); err != nil {
		return nil, err
	}
	return s.orch.Command(r.Context(), r.PathValue("id"), rollout.Command{Kind: kind, Actor: identity(r).Name, Reason: req.Reason})
}

func (s *Server) postRollback(r *http.Request) (any, error) {
	var req api.RollbackRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := s.allow(r, auth.Rollback, req.Env); err != nil {
		return nil, err
	}
	if err := s.checkActor(r, req.Actor); err != nil {
		return nil, err
	}
	req.Actor = identity(r).Name
	return s.orch.Rollback(r.Context(), req)
}

func (s *Server) getQueue(r *http.Request) (any, error) {
	return s.orch.Queue(r.Context(), 0, r.URL.Query().Get("all") != "1")
}

func (s *Server) postCancelQueued(r *http.Request) (any, error) {
	id, err := pathID(r, "queue entry")
	if err != nil {
		return nil, err
	}
	var req api.CommandRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	env, err := s.queuedEnvironment(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if err := s.allow(r, auth.Cancel, env); err != nil {
		return nil, err
	}
	if err := s.checkActor(r, req.Actor); err != nil {
		return nil, err
	}
	return s.orch.CancelQueued(r.Context(), id, identity(r).Name, req.Reason)
}

func (s *Server) getRollouts(r *http.Request) (any, error) {
	q := r.URL.Query()
	rows, err := s.d.Store.ListRollouts(r.Context(), store.RolloutFilter{Active: q.Get("active") == "1", Service: q.Get("service"), Environment: q.Get("environment")})
	out := make([]api.RolloutView, 0, len(rows))
	for _, row := range rows {
		out = append(out, s.orch.View(row, false))
	}
	return out, err
}

func (s *Server) getRollout(r *http.Request) (any, error) {
	id, err := orchestrate.ParseID("rollout", r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	return s.orch.Explain(r.Context(), id)
}

func (s *Server) getStatus(r *http.Request) (any, error) {
	return s.orch.Status(r.Context(), r.URL.Query().Get("service"))
}

func (s *Server) getHistory(r *http.Request) (any, error) {
	q := r.URL.Query()
	if q.Get("service") == "" {
		return nil, fmt.Errorf("%w: history needs a service (and an environment, or every one)", orchestrate.ErrBadRequest)
	}
	return s.orch.History(r.Context(), q.Get("service"), q.Get("environment"))
}

// pathID is the {id} of the path, a positive number naming what.
func pathID(r *http.Request, what string) (int64, error) {
	return orchestrate.ParseID(what, r.PathValue("id"))
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
	alive := time.Now()
	for {
		wake := s.notify.wait()
		evs, err := s.d.Store.EventsSince(r.Context(), after, 1000)
		if err != nil {
			return
		}
		for _, e := range evs {
			fmt.Fprintf(w, "id: %d\ndata: %s\n\n", e.ID, s.redact().Bytes(e.Data))
			after = e.ID
		}
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-wake:
		case <-time.After(followPoll): // events other processes store (belay build's)
			if time.Since(alive) >= 15*time.Second {
				fmt.Fprint(w, ": keep-alive\n\n")
				alive = time.Now()
			}
		}
	}
}

// followPoll is how often an event stream looks for events stored by
// other processes; the server's own wake it at once.
const followPoll = time.Second
