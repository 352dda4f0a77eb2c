package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/auth"
	"github.com/belay-dev/belay/internal/orchestrate"
	"github.com/belay-dev/belay/internal/secret"
	"github.com/belay-dev/belay/internal/store"
)

// Environment secrets over the API: names are readable like the rest of the
// state; setting, removing and reading a value need the admin role in the
// environment, and each is audited (a value only by its fingerprint) before
// it counts: a change the audit log cannot take is undone.

// secretEnv is the request's environment, which belay.yaml must define,
// where the token must be allowed a.
func (s *Server) secretEnv(r *http.Request, a auth.Action) (string, error) {
	if s.d.Secrets == nil {
		return "", fmt.Errorf("%w: this server keeps no secrets", orchestrate.ErrBadRequest)
	}
	env := r.PathValue("env")
	p, err := s.Project()
	if err != nil {
		return "", err
	}
	if p.Environment(env) == nil {
		return "", fmt.Errorf("%w: environment %q is not defined in belay.yaml; defined: %v", store.ErrNotFound, env, p.EnvironmentNames())
	}
	return env, s.allow(r, a, env)
}

// relFile is the secrets file of env as a user finds it: next to belay.yaml.
func (s *Server) relFile(env string) string {
	return filepath.Join(filepath.Base(filepath.Dir(s.d.Secrets.Path(env))), env+".age")
}

func (s *Server) getSecrets(r *http.Request) (any, error) {
	env, err := s.secretEnv(r, auth.Read)
	if err != nil {
		return nil, err
	}
	set, err := s.d.Secrets.Read(env)
	if err != nil {
		return nil, err
	}
	out := api.SecretList{Environment: env, File: s.relFile(env), Names: set.Names()}
	if id, ok, _ := s.d.Secrets.Keys.Identity(env); ok {
		out.Recipient = id.Recipient().String()
	}
	return out, nil
}

func (s *Server) getSecret(r *http.Request) (any, error) {
	env, err := s.secretEnv(r, auth.Secrets)
	if err != nil {
		return nil, err
	}
	name := r.PathValue("name")
	vals, err := s.d.Secrets.Values(env, []string{name})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", store.ErrNotFound, err)
	}
	if _, err := s.d.Store.AppendAudit(r.Context(), s.secretAudit(r, "secret.read", env, name, "", "")); err != nil {
		return nil, fmt.Errorf("secret not read: it could not be audited: %w", err)
	}
	return api.SecretValue{Environment: env, Name: name, Value: vals[name]}, nil
}

// postSecret sets a secret (a value in the body) or removes it.
func (s *Server) postSecret(remove bool) apiFunc {
	return func(r *http.Request) (any, error) { return s.changeSecret(r, remove) }
}

func (s *Server) changeSecret(r *http.Request, remove bool) (any, error) {
	var req api.SecretRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	env, err := s.secretEnv(r, auth.Secrets)
	if err != nil {
		return nil, err
	}
	name := r.PathValue("name")
	if err := secret.CheckName(name); err != nil {
		return nil, fmt.Errorf("%w: %v", orchestrate.ErrBadRequest, err)
	}
	if !remove {
		if err := secret.CheckValue(name, req.Value); err != nil {
			return nil, fmt.Errorf("%w: %v", orchestrate.ErrBadRequest, err)
		}
	} else if req.Value != "" {
		return nil, fmt.Errorf("%w: a removal takes no value", orchestrate.ErrBadRequest)
	}
	out := api.SecretChange{Environment: env, Name: name, File: s.relFile(env)}
	err = s.d.Secrets.Change(env, func(set secret.Set) error {
		_, had := set[name]
		switch {
		case remove && !had:
			return fmt.Errorf("%w: secret %s is not set in %s", store.ErrNotFound, name, env)
		case remove:
			delete(set, name)
			out.Action = "remove"
		case had:
			out.Action = "replace"
		default:
			out.Action = "set"
		}
		if !remove {
			set[name] = req.Value
		}
		return nil
	}, func() error {
		if !remove {
			out.Fingerprint = s.d.Secrets.Fingerprint(env, req.Value)
		}
		_, err := s.d.Store.AppendAudit(r.Context(), s.secretAudit(r, "secret."+out.Action, env, name, out.Fingerprint, req.Reason))
		return err
	})
	return out, err
}

func (s *Server) secretAudit(r *http.Request, action, env, name, fingerprint, reason string) store.AuditEntry {
	d := map[string]string{"environment": env, "file": s.relFile(env)}
	if fingerprint != "" {
		d["fingerprint"] = fingerprint
	}
	detail, _ := json.Marshal(d)
	return store.AuditEntry{At: s.d.Now().UTC(), Actor: identity(r).Name, Action: action,
		Subject: "secret/" + env + "/" + name, Reason: reason, Detail: detail}
}
