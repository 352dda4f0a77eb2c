package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/orchestrate"
)

// maxBody is the largest request body the API reads: a release plan file
// is a few kilobytes.
const maxBody = 1 << 20

// Body errors the server answers with their own statuses.
var (
	errTooLarge  = errors.New("request body too large")
	errMediaType = errors.New("unsupported media type")
)

// checkBody refuses, before a handler runs, a body too large by its declared
// length and a POST whose Content-Type is not JSON (or missing). The answer is never a
// value; it has checkBody's signature so that handle can chain it.
func checkBody(r *http.Request) (any, error) {
	if r.ContentLength > maxBody {
		return nil, tooLarge()
	}
	if r.Method != http.MethodPost {
		return nil, nil
	}
	// A state-changing call must say it carries JSON: a browser sends that
	// type cross-site only after a CORS preflight, which this API never
	// answers, so no web page can make one (no CSRF through simple requests).
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil, fmt.Errorf("%w: no Content-Type: send application/json (curl: -H 'Content-Type: application/json')", errMediaType)
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return nil, fmt.Errorf("%w: Content-Type %q: the API reads application/json only", errMediaType, ct)
	}
	return nil, nil
}

func tooLarge() error {
	return fmt.Errorf("%w: the limit is %d KiB", errTooLarge, maxBody>>10)
}

// decode reads one JSON object into v, refusing fields v does not have,
// and says which field or byte is wrong.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errTrailing
		}
	}
	return bodyError(err, v)
}

var errTrailing = errors.New("more than one JSON value")

func bodyError(err error, v any) error {
	var (
		tooBig *http.MaxBytesError
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooBig):
		return tooLarge()
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w: request body is empty: send a JSON object", orchestrate.ErrMalformed)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: request body is not valid JSON: it ends before the object does", orchestrate.ErrMalformed)
	case errors.As(err, &syntax):
		return fmt.Errorf("%w: request body is not valid JSON at byte %d: %v", orchestrate.ErrMalformed, syntax.Offset, err)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Errorf("%w: request body: field %q must be a JSON %s, not %s", orchestrate.ErrMalformed, typ.Field, typ.Type, typ.Value)
	case errors.Is(err, errTrailing):
		return fmt.Errorf("%w: request body holds more than one JSON value: send a single object", orchestrate.ErrMalformed)
	}
	// encoding/json has no type for an unknown field; its message names it.
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf("%w: request body: unknown field %s; the fields are %s", orchestrate.ErrMalformed, f, strings.Join(api.FieldNames(reflect.TypeOf(v)), ", "))
	}
	return fmt.Errorf("%w: request body: %v", orchestrate.ErrMalformed, err)
}
