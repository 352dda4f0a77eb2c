package server

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/auth"
	"github.com/belay-dev/belay/internal/flag"
	"github.com/belay-dev/belay/internal/spec"
)

// belay.yaml's flags over the OpenFeature Remote Evaluation Protocol
// (OFREP v0.3.0), so that an application reads them with an OpenFeature
// SDK's OFREP provider. The token chooses the environment: it must be
// scoped to exactly one. Server-side SDKs only: sameOrigin refuses pages on
// other origins, and belay answers no CORS preflight.

// OFREP's failures, mapped to its status and errorCode by ofrepStatus.
var (
	errOFREPParse   = errors.New("not an evaluation request")
	errOFREPContext = errors.New("invalid evaluation context")
	errOFREPNoFlag  = errors.New("no such flag")
	errOFREPScope   = errors.New("no environment chosen")
)

// flagSource is one flag as an environment sees it now.
type flagSource struct {
	Flag       spec.Flag
	Overridden bool // a run-time override applies
}

// effectiveFlags are env's flags as they are now, by key: the one source of
// what OFREP answers.
func (s *Server) effectiveFlags(ctx context.Context, env string) (map[string]flagSource, error) {
	p, err := s.Project()
	if err != nil {
		return nil, err
	}
	if p.Environment(env) == nil {
		return nil, fmt.Errorf("%w: the token's environment %q is not in belay.yaml (environments: %s): use a token for one of them",
			errOFREPScope, env, strings.Join(p.EnvironmentNames(), ", "))
	}
	// belay.yaml's flags with the run-time overrides on top (flags.go).
	resolved, err := s.flagService().Effective(ctx, p, env)
	if err != nil {
		return nil, err
	}
	out := make(map[string]flagSource, len(resolved))
	for key, r := range resolved {
		out[key] = flagSource{Flag: r.Flag, Overridden: r.Override != nil}
	}
	return out, nil
}

// ofrepEnvironment is the one environment id's token is scoped to.
func ofrepEnvironment(id auth.Identity) (string, error) {
	if len(id.Environments) == 1 {
		return id.Environments[0], nil
	}
	return "", fmt.Errorf("%w: token %s is for %s, and flags are evaluated in one environment, which the token chooses: "+
		"use a token scoped to one (belay token create --name web --role viewer --env production)", errOFREPScope, id.Name, id.Scope())
}

// evaluationRequest reads an OFREP request body, {"context": {…}}, and
// returns its targeting key ("" when the context has none).
func evaluationRequest(w http.ResponseWriter, r *http.Request) (string, error) {
	var req struct {
		Context json.RawMessage `json:"context"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(&req); err != nil {
		return "", fmt.Errorf("%w: %v", errOFREPParse, strings.TrimPrefix(bodyError(err, &req).Error(), "malformed request: "))
	}
	if _, extra := dec.Token(); extra != io.EOF {
		return "", fmt.Errorf("%w: the body holds more than one JSON value: send one object, {\"context\": {…}}", errOFREPParse)
	}
	var ctx map[string]any
	if err := json.Unmarshal(req.Context, &ctx); err != nil || ctx == nil {
		return "", fmt.Errorf("%w: send {\"context\": {\"targetingKey\": \"…\"}}: context must be a JSON object", errOFREPContext)
	}
	key, ok := ctx["targetingKey"]
	if !ok {
		return "", nil // only a split needs one
	}
	if k, isString := key.(string); isString {
		return k, nil
	}
	return "", fmt.Errorf("%w: targetingKey must be a string", errOFREPContext)
}

// evaluate answers one flag as OFREP shows it. OFREP's reasons lack
// DEFAULT: a variant an override pinned is the same for everyone, STATIC,
// and metadata.overridden says why.
func evaluate(key string, src flagSource, targetingKey string) (flag.Evaluation, error) {
	ev, err := flag.Evaluate(key, src.Flag, targetingKey, src.Overridden)
	if errors.Is(err, flag.ErrTargetingKeyMissing) {
		return ev, fmt.Errorf("%w: flag %s splits on the context's targetingKey: send {\"context\": {\"targetingKey\": \"<a user's id>\"}}", err, key)
	}
	if ev.Reason == flag.ReasonDefault {
		ev.Reason = flag.ReasonStatic
	}
	return ev, err
}

// ofrepFailure is OFREP's evaluationFailure (and flagNotFound).
type ofrepFailure struct {
	Key          string `json:"key,omitempty"`
	ErrorCode    string `json:"errorCode,omitempty"`
	ErrorDetails string `json:"errorDetails"`
}

// ofrepStatus maps an error to OFREP's status and errorCode ("" where
// OFREP defines no code).
func ofrepStatus(err error) (int, string) {
	switch {
	case errors.Is(err, errOFREPParse):
		return http.StatusBadRequest, "PARSE_ERROR"
	case errors.Is(err, errOFREPContext):
		return http.StatusBadRequest, "INVALID_CONTEXT"
	case errors.Is(err, flag.ErrTargetingKeyMissing):
		return http.StatusBadRequest, "TARGETING_KEY_MISSING"
	case errors.Is(err, errOFREPNoFlag):
		return http.StatusNotFound, "FLAG_NOT_FOUND"
	case errors.Is(err, errOFREPScope):
		return http.StatusForbidden, ""
	}
	return http.StatusInternalServerError, ""
}

// ofrepFailed writes err as OFREP's failure answer for flag key ("" for
// the bulk request).
func (s *Server) ofrepFailed(w http.ResponseWriter, r *http.Request, key string, err error) {
	code, errorCode := ofrepStatus(err)
	if code >= 500 {
		s.d.Logger.Error("ofrep", "path", r.URL.Path, "err", err)
	}
	if code == http.StatusForbidden {
		s.audit(r, identity(r).Name, "denied.ofrep", err)
	}
	f := ofrepFailure{ErrorCode: errorCode, ErrorDetails: s.redact().String(err.Error())}
	if errorCode != "" && key != "" {
		f.Key = key
	}
	writeJSON(w, code, f)
}

// ofrepRefusal writes authenticate's refusals of an OFREP request in
// OFREP's shape.
func ofrepRefusal(r *http.Request) func(w http.ResponseWriter, code int, msg string) {
	key, _ := strings.CutPrefix(r.URL.Path, "/ofrep/v1/evaluate/flags/")
	if key == r.URL.Path {
		key = ""
	}
	return func(w http.ResponseWriter, code int, msg string) {
		writeJSON(w, code, ofrepFailure{Key: key, ErrorCode: "GENERAL", ErrorDetails: msg})
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// evaluationInput is what both endpoints start from: the request's
// targeting key and its environment's flags.
func (s *Server) evaluationInput(w http.ResponseWriter, r *http.Request) (string, map[string]flagSource, error) {
	env, err := ofrepEnvironment(identity(r))
	if err != nil {
		return "", nil, err
	}
	targetingKey, err := evaluationRequest(w, r)
	if err != nil {
		return "", nil, err
	}
	flags, err := s.effectiveFlags(r.Context(), env)
	return targetingKey, flags, err
}

// postOFREPFlag is POST /ofrep/v1/evaluate/flags/{key}.
func (s *Server) postOFREPFlag(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	targetingKey, flags, err := s.evaluationInput(w, r)
	if err != nil {
		s.ofrepFailed(w, r, key, err)
		return
	}
	src, ok := flags[key]
	if !ok {
		s.ofrepFailed(w, r, key, fmt.Errorf("%w: flag %q is not in belay.yaml's flags: block", errOFREPNoFlag, key))
		return
	}
	ev, err := evaluate(key, src, targetingKey)
	if err != nil {
		s.ofrepFailed(w, r, key, err)
		return
	}
	writeJSON(w, http.StatusOK, ev)
}

// bulkEvaluation is OFREP's bulkEvaluationSuccess; each item is a
// flag.Evaluation or an ofrepFailure.
type bulkEvaluation struct {
	Flags        []any            `json:"flags"`
	Metadata     map[string]any   `json:"metadata,omitempty"`
	EventStreams []map[string]any `json:"eventStreams,omitempty"`
}

// ofrepChanges is where a client hears that its environment's flags changed.
const ofrepChanges = "/ofrep/v1/flags/changes"

// postOFREPFlags is POST /ofrep/v1/evaluate/flags: every flag for one
// context, with a strong ETag of the answer; If-None-Match with it gets 304.
func (s *Server) postOFREPFlags(w http.ResponseWriter, r *http.Request) {
	targetingKey, flags, err := s.evaluationInput(w, r)
	if err != nil {
		s.ofrepFailed(w, r, "", err)
		return
	}
	env, _ := ofrepEnvironment(identity(r))
	out := bulkEvaluation{Flags: []any{}, Metadata: map[string]any{"environment": env},
		EventStreams: []map[string]any{{"type": "sse", "endpoint": map[string]any{"requestUri": ofrepChanges}}}}
	for _, key := range slices.Sorted(maps.Keys(flags)) {
		ev, err := evaluate(key, flags[key], targetingKey)
		if err != nil {
			_, code := ofrepStatus(err)
			out.Flags = append(out.Flags, ofrepFailure{Key: key, ErrorCode: cmp.Or(code, "GENERAL"), ErrorDetails: err.Error()})
			continue
		}
		out.Flags = append(out.Flags, ev)
	}
	b, err := json.Marshal(out)
	if err != nil {
		s.ofrepFailed(w, r, "", err)
		return
	}
	b = append(b, '\n')
	etag := strongETag(b)
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache") // revalidate: flags change without warning
	if noneMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// strongETag is a strong entity tag of body: a hash of its bytes.
func strongETag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
}

// noneMatch reports whether an If-None-Match header names etag, by the
// weak comparison RFC 9110 13.1.2 asks for ("*" names any).
func noneMatch(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// changesPoll is how often a change stream looks at belay.yaml, which
// says nothing when it is edited.
const changesPoll = 2 * time.Second

// flagsETag is a tag of env's flags as they are now.
func (s *Server) flagsETag(ctx context.Context, env string) (string, error) {
	flags, err := s.effectiveFlags(ctx, env)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(flags) // maps marshal in key order
	if err != nil {
		return "", err
	}
	return strongETag(b), nil
}

// getOFREPChanges is GET /ofrep/v1/flags/changes: server-sent events, one
// OFREP refetchEvaluation whenever the token's environment's flags change,
// until the client goes away.
func (s *Server) getOFREPChanges(w http.ResponseWriter, r *http.Request) {
	env, err := ofrepEnvironment(identity(r))
	if err != nil {
		s.ofrepFailed(w, r, "", err)
		return
	}
	last, err := s.flagsETag(r.Context(), env)
	if err != nil {
		s.ofrepFailed(w, r, "", err)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	flusher, _ := w.(http.Flusher)
	poll := cmp.Or(s.flagsPoll, changesPoll)
	fmt.Fprint(w, ": watching "+env+"'s flags\n\n")
	for {
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-s.notify.wait(): // overrides will change flags through the store's events
		case <-time.After(poll):
		}
		tag, err := s.flagsETag(r.Context(), env)
		if err != nil || tag == last {
			continue // a belay.yaml that does not load changes nothing yet
		}
		last = tag
		data, _ := json.Marshal(map[string]string{"type": "refetchEvaluation", "etag": tag})
		fmt.Fprintf(w, "event: message\ndata: %s\n\n", data)
	}
}
