package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/spf13/cobra"
)

// ErrorOutput is what every verb prints on stdout under -o json when it
// fails, before it exits non-zero: a code a script can branch on, the
// message the text output would print, and what to do (may be empty).
type ErrorOutput struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody is the body of ErrorOutput.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint"`
}

// Error codes that are not HTTP answers.
const (
	codeError    = "error"     // anything else
	codeUsage    = "usage"     // a flag or argument is wrong
	codeNoServer = "no_server" // no belay server runs or answers
	codeFailed   = "failed"    // the verb ran and its answer is no (wait, verify)
	codeInvalid  = "invalid"   // validate found problems
)

// hintError is an error with a code and what to do about it. Its text is
// the message, then the hint, as the text output has always read.
type hintError struct {
	code, msg, hint string
	err             error // wrapped, may be nil
}

func (e *hintError) Error() string {
	if e.hint == "" {
		return e.msg
	}
	return e.msg + ": " + e.hint
}

func (e *hintError) Unwrap() error { return e.err }

// usageError marks a wrong flag or argument; cobra's own errors for those
// are plain, so the command tree wraps them (see markUsage).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// markUsage makes the flag and argument errors of cmd and its children
// usage errors.
func markUsage(cmd *cobra.Command) {
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	if args := cmd.Args; args != nil {
		cmd.Args = func(c *cobra.Command, a []string) error {
			if err := args(c, a); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	for _, c := range cmd.Commands() {
		markUsage(c)
	}
}

// describe turns an error into its JSON form.
func describe(err error) ErrorBody {
	var (
		he *hintError
		se *statusError
		ue usageError
		ee *exitError
	)
	switch {
	case errors.As(err, &he):
		return ErrorBody{Code: he.code, Message: he.msg, Hint: he.hint}
	case errors.As(err, &se):
		return ErrorBody{Code: httpCode(se.code), Message: se.msg}
	case errors.As(err, &ue), strings.HasPrefix(err.Error(), "unknown command "):
		return ErrorBody{Code: codeUsage, Message: err.Error(), Hint: "see `belay help` and `belay <verb> --help`"}
	case errors.As(err, &ee):
		code := codeFailed
		if ee.code == exitInvalid {
			code = codeInvalid
		}
		return ErrorBody{Code: code, Message: err.Error()}
	}
	return ErrorBody{Code: codeError, Message: err.Error()}
}

// httpCode names a server's error status for scripts.
func httpCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "malformed_request"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusConflict:
		return "conflict"
	case http.StatusPreconditionFailed:
		return "needs_force"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusUnprocessableEntity:
		return "refused"
	}
	if status >= 500 {
		return "server_error"
	}
	return fmt.Sprintf("http_%d", status)
}

// printError prints a failed verb's error: under -o json as ErrorOutput on
// stdout (unless the verb already printed its JSON answer, as validate
// does), else as text on stderr.
func printError(stdout, stderr io.Writer, jsonOut bool, err error) {
	if !jsonOut {
		fmt.Fprintln(stderr, "belay:", err)
		return
	}
	var ee *exitError
	if errors.As(err, &ee) && ee.reported {
		return
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(ErrorOutput{Error: describe(err)})
}
