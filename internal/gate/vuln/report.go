package vuln

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"unicode/utf8"
)

// ErrReport is wrapped by every error about a report file that cannot be
// read as one of the formats belay knows.
var ErrReport = errors.New("unreadable vulnerability report")

// formats are the report formats, in the order they are tried; each
// recognises its report by its top-level keys.
var formats = []struct {
	tool  Tool
	is    func(top map[string]json.RawMessage) bool
	parse func(data []byte) ([]Finding, error)
}{
	{Govulncheck, isGovulncheck, parseGovulncheck},
	{Trivy, isTrivy, parseTrivy},
	{Grype, isGrype, parseGrype},
	{OSVScanner, isOSVScanner, parseOSVScanner},
}

// expected says what a report file may be, for errors.
const expected = "expected the JSON output of `govulncheck -json`, `osv-scanner --format json`, " +
	"`trivy … --format json` or `grype -o json`"

// ParseReport reads the report in data, named name in errors and in its
// findings, whatever tool wrote it: the format is recognised from the
// content. A file that is not JSON gives an error with the line and column
// where it stops being JSON.
func ParseReport(name string, data []byte) ([]Finding, Tool, error) {
	top, err := firstObject(data)
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typ): // JSON, but not an object
		top = nil
	case err != nil:
		return nil, "", errorf(ErrReport, "%s", jsonError(name, data, err))
	}
	for _, f := range formats {
		if !f.is(top) {
			continue
		}
		fs, err := f.parse(data)
		if err != nil {
			return nil, f.tool, errorf(ErrReport, "%s (read as %s's report)", jsonError(name, data, err), f.tool)
		}
		for i := range fs {
			fs[i].Report = name
		}
		return fs, f.tool, nil
	}
	return nil, "", errorf(ErrReport, "%s: not a vulnerability report belay reads: %s", name, expected)
}

// firstObject decodes the keys of the first JSON value in data, which must
// be an object (govulncheck writes a stream of them).
func firstObject(data []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var top map[string]json.RawMessage
	if err := dec.Decode(&top); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the file is empty: " + expected)
		}
		return nil, err
	}
	return top, nil
}

// jsonError puts name and, when err knows where in data it happened, the
// line and column in front of err.
func jsonError(name string, data []byte, err error) string {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		line, col := position(data, syn.Offset)
		return fmt.Sprintf("%s:%d:%d: malformed JSON: %v", name, line, col, syn)
	case errors.As(err, &typ):
		line, col := position(data, typ.Offset)
		field := ""
		if typ.Field != "" {
			field = " in field " + typ.Field
		}
		return fmt.Sprintf("%s:%d:%d: a JSON %s where %s belongs%s", name, line, col, typ.Value, jsonKind(typ.Type), field)
	case errors.Is(err, io.ErrUnexpectedEOF):
		line, col := position(data, int64(len(data)))
		return fmt.Sprintf("%s:%d:%d: malformed JSON: the file ends inside a value (truncated?)", name, line, col)
	}
	return fmt.Sprintf("%s: %v", name, err)
}

// jsonKind names the JSON value a Go type decodes from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	}
	return "a number"
}

// position is the 1-based line and column (in characters) of the byte at
// offset in data. encoding/json's offsets point just past the bad byte.
func position(data []byte, offset int64) (line, col int) {
	offset = min(max(offset, 0), int64(len(data)))
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	start := bytes.LastIndexByte(before, '\n') + 1
	return line, max(utf8.RuneCount(before[start:]), 1)
}

// Source is one input of the gate: a report file, or a govulncheck scan of
// a module directory, and how many findings it gave.
type Source struct {
	Tool     Tool   `json:"tool"`
	Report   string `json:"report,omitempty"` // the report file
	Dir      string `json:"dir,omitempty"`    // the module directory govulncheck scanned
	Findings int    `json:"findings"`
}
