package sqlstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

// SQLiteTime is the text form of times in SQLite: fixed width, so text order
// is time order.
const SQLiteTime = "2006-01-02T15:04:05.000000Z"

// timeCol scans a time stored as a timestamp or as text.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(v any) error {
	switch v := v.(type) {
	case time.Time:
		*c.t = Norm(v)
	case string:
		return c.parse(v)
	case []byte:
		return c.parse(string(v))
	case nil:
		*c.t = time.Time{}
	default:
		return fmt.Errorf("store: cannot read %T as a time", v)
	}
	return nil
}

func (c timeCol) parse(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("store: bad stored time %q: %w", s, err)
	}
	*c.t = Norm(t)
	return nil
}

// jsonCol scans nullable JSON stored as json or text.
type jsonCol struct{ j *json.RawMessage }

func (c jsonCol) Scan(v any) error {
	switch v := v.(type) {
	case string:
		*c.j = json.RawMessage(v)
	case []byte:
		*c.j = append(json.RawMessage(nil), v...)
	case nil:
		*c.j = nil
	default:
		return fmt.Errorf("store: cannot read %T as JSON", v)
	}
	return nil
}

// jsonArg is the parameter for optional JSON: NULL when empty.
func jsonArg(field string, j json.RawMessage) (any, error) {
	if len(j) == 0 {
		return nil, nil
	}
	if !json.Valid(j) {
		return nil, fmt.Errorf("%w: %s is not valid JSON", store.ErrInvalid, field)
	}
	return string(j), nil
}

// boolCol scans a boolean stored as a boolean or an integer.
type boolCol struct{ b *bool }

func (c boolCol) Scan(v any) error {
	switch v := v.(type) {
	case bool:
		*c.b = v
	case int64:
		*c.b = v != 0
	default:
		return fmt.Errorf("store: cannot read %T as a boolean", v)
	}
	return nil
}

// required reports empty required fields as ErrInvalid.
func required(what string, fields ...string) error {
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] == "" {
			return fmt.Errorf("%w: %s needs a %s", store.ErrInvalid, what, fields[i])
		}
	}
	return nil
}
