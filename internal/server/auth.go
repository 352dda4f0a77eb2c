package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/auth"
	"github.com/belay-dev/belay/internal/orchestrate"
	"github.com/belay-dev/belay/internal/store"
)

// Failed authentications a client address may make at once, then one per
// failEvery: enough for a person mistyping, far too few for guessing.
const (
	failBurst = 10
	failEvery = 6 * time.Second
)

type identityKey struct{}

// identity is who the request comes from (authenticate put it there).
func identity(r *http.Request) auth.Identity {
	id, _ := r.Context().Value(identityKey{}).(auth.Identity)
	return id
}

// authenticate lets through only requests carrying a usable token
// (Authorization: Bearer; on OFREP's paths X-API-Key too), with the
// token's identity in their context.
// A token in the URL is refused: URLs end up in logs and histories.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		fail := writeError
		if strings.HasPrefix(r.URL.Path, "/ofrep/") {
			fail = ofrepRefusal(r)
		}
		now := s.d.Now()
		client := clientAddr(r)
		if blocked, wait := s.failures.Blocked(client, now); blocked {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			fail(w, http.StatusTooManyRequests, fmt.Sprintf("too many failed authentications from %s: try again in %s", client, wait.Round(time.Second)+time.Second))
			return
		}
		q := r.URL.Query()
		if q.Has("token") || q.Has("access_token") {
			fail(w, http.StatusBadRequest, "a token never goes in a URL, where logs and histories keep it: send it as Authorization: Bearer <token>")
			return
		}
		id, err := s.identify(r.Context(), authorization(r), now)
		if err != nil {
			s.failures.Failed(client, now)
			s.audit(r, "anonymous", "denied.authenticate", err)
			fail(w, http.StatusUnauthorized, err.Error())
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	})
}

// authorization is the request's Authorization header; on OFREP's paths,
// whose SDKs may send the token as X-API-Key instead, that one as a bearer.
func authorization(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if key := r.Header.Get("X-API-Key"); h == "" && key != "" && strings.HasPrefix(r.URL.Path, "/ofrep/") {
		return "Bearer " + key
	}
	return h
}

// identify finds the identity of an Authorization header's token.
func (s *Server) identify(ctx context.Context, header string, now time.Time) (auth.Identity, error) {
	tok, ok := strings.CutPrefix(header, "Bearer ")
	if header == "" || !ok {
		return auth.Identity{}, fmt.Errorf("%w: send Authorization: Bearer <token> (the local CLI reads %s; an admin makes tokens with belay token create)",
			auth.ErrUnauthenticated, s.d.TokenFile)
	}
	h, err := auth.Hash(strings.TrimSpace(tok))
	if err != nil {
		return auth.Identity{}, err
	}
	t, err := s.d.Store.TokenByHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) || err == nil && subtle.ConstantTimeCompare(t.Hash, h) != 1 {
		return auth.Identity{}, fmt.Errorf("%w: this token is not one of this server's (was the state reset? an admin makes tokens with belay token create)", auth.ErrUnauthenticated)
	} else if err != nil {
		return auth.Identity{}, err
	}
	if err := auth.Usable(t.Name, t.Revoked, t.Expires, now); err != nil {
		return auth.Identity{}, err
	}
	return auth.Identity{Name: t.Name, Role: auth.Role(t.Role), Environments: t.Environments, TokenID: t.ID}, nil
}

// allow checks that the request's identity may do a in env, and audits a
// denial.
func (s *Server) allow(r *http.Request, a auth.Action, env string) error {
	id := identity(r)
	err := id.Can(a, env)
	if err != nil {
		s.audit(r, id.Name, "denied."+string(a), err)
	}
	return err
}

// audit records a refused request (best effort: a refusal stands either way).
func (s *Server) audit(r *http.Request, actor, action string, why error) {
	detail, _ := json.Marshal(map[string]string{"method": r.Method, "path": r.URL.Path, "client": clientAddr(r)})
	_, err := s.d.Store.AppendAudit(r.Context(), store.AuditEntry{At: s.d.Now().UTC(), Actor: actor, Action: action,
		Subject: "api" + r.URL.Path, Reason: why.Error(), Detail: detail})
	if err != nil {
		s.d.Logger.Warn("denial not audited", "path", r.URL.Path, "err", err)
	}
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// checkActor refuses an actor named in a request body that is not the
// token's identity: the actor of an audited action is who the token says.
func (s *Server) checkActor(r *http.Request, given string) error {
	if id := identity(r); given != "" && given != id.Name {
		return fmt.Errorf("%w: actor %q: the actor is the token's identity (%s); leave actor out", orchestrate.ErrBadRequest, given, id.Name)
	}
	return nil
}
