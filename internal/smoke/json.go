package smoke

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// checkJSON compares dotted paths of a JSON body with expected values; it
// returns "" when all match, else what differs.
func checkJSON(body []byte, want map[string]any) string {
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return "body is not JSON: " + err.Error()
	}
	paths := make([]string, 0, len(want))
	for p := range want {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var problems []string
	for _, p := range paths {
		got, ok := lookup(doc, p)
		if !ok {
			problems = append(problems, fmt.Sprintf("json %s: missing", p))
			continue
		}
		if !jsonEqual(got, want[p]) {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want[p])
			problems = append(problems, fmt.Sprintf("json %s = %s, want %s", p, g, w))
		}
	}
	return strings.Join(problems, "; ")
}

// lookup follows a dotted path through objects and arrays (items.0.id).
func lookup(doc any, path string) (any, bool) {
	cur := doc
	for _, part := range strings.Split(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[part]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// jsonEqual compares a decoded JSON value with an expected value from a
// config file, normalising the expected one through JSON so 1 equals 1.0.
// A string expectation also matches a scalar written the same way ("3" and 3),
// because YAML authors quote inconsistently.
func jsonEqual(got, want any) bool {
	b, err := json.Marshal(want)
	if err != nil {
		return false
	}
	var norm any
	if err := json.Unmarshal(b, &norm); err != nil {
		return false
	}
	if reflect.DeepEqual(got, norm) {
		return true
	}
	if s, ok := want.(string); ok {
		switch got.(type) {
		case float64, bool:
			g, _ := json.Marshal(got)
			return string(g) == s
		}
	}
	return false
}
