package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/atomicfile"
	"github.com/belay-dev/belay/internal/auth"
	"github.com/belay-dev/belay/internal/orchestrate"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/store"
)

// commandAction is the permission each rollout command needs.
var commandAction = map[rollout.CommandKind]auth.Action{
	rollout.CmdPause: auth.Pause, rollout.CmdResume: auth.Resume, rollout.CmdPromote: auth.Promote, rollout.CmdAbort: auth.Abort,
}

// firstEnvironment is where a release starts: the one it names, else the
// first in promotion order. Releasing needs the deployer role there; the
// later environments are entered by belay, behind their protection.
func (s *Server) firstEnvironment(named string) string {
	if named != "" {
		return named
	}
	p, err := s.Project()
	if err != nil || len(p.EnvironmentNames()) == 0 {
		return "" // unknown: the role is needed everywhere
	}
	return p.EnvironmentNames()[0]
}

// queuedEnvironment is the environment a queue entry waits for.
func (s *Server) queuedEnvironment(ctx context.Context, id int64) (string, error) {
	qs, err := s.orch.Queue(ctx, 0, false)
	if err != nil {
		return "", err
	}
	for _, q := range qs {
		if q.ID == id {
			return q.Environment, nil
		}
	}
	return "", fmt.Errorf("%w: no queue entry %d", store.ErrNotFound, id)
}

func (s *Server) getWhoami(r *http.Request) (any, error) {
	id := identity(r)
	return api.Whoami{Name: id.Name, Role: string(id.Role), Environments: id.Environments, TokenID: id.TokenID}, nil
}

func (s *Server) postToken(r *http.Request) (any, error) {
	var req api.TokenRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := s.allow(r, auth.Tokens, ""); err != nil {
		return nil, err
	}
	t, err := s.tokenOf(req)
	if err != nil {
		return nil, err
	}
	t.CreatedBy = identity(r).Name
	return s.createToken(r.Context(), t, req.Reason)
}

// tokenOf checks a token request against belay.yaml's environments.
func (s *Server) tokenOf(req api.TokenRequest) (store.Token, error) {
	if err := auth.CheckName(req.Name); err != nil {
		return store.Token{}, fmt.Errorf("%w: %v", orchestrate.ErrBadRequest, err)
	}
	role, err := auth.ParseRole(req.Role)
	if err != nil {
		return store.Token{}, fmt.Errorf("%w: %v", orchestrate.ErrBadRequest, err)
	}
	p, err := s.Project()
	if err != nil {
		return store.Token{}, err
	}
	for _, e := range req.Environments {
		if p.Environment(e) == nil {
			return store.Token{}, fmt.Errorf("%w: environment %q is not in belay.yaml (environments: %s)", orchestrate.ErrBadRequest, e, strings.Join(p.EnvironmentNames(), ", "))
		}
	}
	now := s.d.Now().UTC()
	t := store.Token{Name: req.Name, Role: string(role), Environments: req.Environments, Created: now}
	if req.ExpiresIn != "" {
		d, err := parseLifetime(req.ExpiresIn)
		if err != nil {
			return store.Token{}, fmt.Errorf("%w: %v", orchestrate.ErrBadRequest, err)
		}
		t.Expires = now.Add(d)
	}
	return t, nil
}

// createToken stores t with a fresh secret and returns it, the one time
// the secret is shown.
func (s *Server) createToken(ctx context.Context, t store.Token, reason string) (api.TokenCreated, error) {
	secret, hash, err := auth.NewToken()
	if err != nil {
		return api.TokenCreated{}, err
	}
	t.Hash = hash
	if t, err = s.d.Store.CreateToken(ctx, t, reason); err != nil {
		return api.TokenCreated{}, err
	}
	return api.TokenCreated{TokenView: tokenView(t), Token: secret}, nil
}

// parseLifetime reads "90d" or a Go duration such as "12h".
func parseLifetime(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n > 0 && n <= 3650 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, fmt.Errorf("expires %q: write a lifetime such as 90d or 12h", s)
}

func (s *Server) getTokens(r *http.Request) (any, error) {
	if err := s.allow(r, auth.Tokens, ""); err != nil {
		return nil, err
	}
	ts, err := s.d.Store.ListTokens(r.Context())
	out := make([]api.TokenView, 0, len(ts))
	for _, t := range ts {
		out = append(out, tokenView(t))
	}
	return out, err
}

// postRevokeToken revokes a token by ID or by name.
func (s *Server) postRevokeToken(r *http.Request) (any, error) {
	var req api.CommandRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := s.allow(r, auth.Tokens, ""); err != nil {
		return nil, err
	}
	key := r.PathValue("id")
	id, err := strconv.ParseInt(key, 10, 64)
	if err != nil {
		t, err := s.d.Store.TokenByName(r.Context(), key)
		if err != nil {
			return nil, err
		}
		id = t.ID
	}
	t, err := s.d.Store.RevokeToken(r.Context(), id, identity(r).Name, req.Reason, s.d.Now().UTC())
	return tokenView(t), err
}

func tokenView(t store.Token) api.TokenView {
	return api.TokenView{ID: t.ID, Name: t.Name, Role: t.Role, Environments: t.Environments, CreatedBy: t.CreatedBy,
		Created: t.Created, Expires: t.Expires, Revoked: t.Revoked, RevokedBy: t.RevokedBy}
}

// FirstAdmin makes the first admin token when the store has no token at
// all and writes it, readable by its owner only, to path, where the local
// CLI reads it. It does nothing when a token exists. The file is written
// before the token is stored, so that a failure leaves no token nobody has.
func (s *Server) FirstAdmin(ctx context.Context, path string) error {
	ts, err := s.d.Store.ListTokens(ctx)
	if err != nil || len(ts) > 0 {
		return err
	}
	secret, hash, err := auth.NewToken()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := atomicfile.Write(path, []byte(secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("first admin token: %w", err)
	}
	_, err = s.d.Store.CreateToken(ctx, store.Token{Name: "admin", Role: string(auth.Admin), Hash: hash, CreatedBy: "belay", Created: s.d.Now().UTC()},
		"the first admin token, made when the server first started")
	if errors.Is(err, store.ErrConflict) {
		return nil // another server on the same store made one first
	}
	return err
}
