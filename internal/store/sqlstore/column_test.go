package sqlstore

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

func TestTimeCol(t *testing.T) {
	want := time.Date(2026, 5, 12, 10, 0, 0, 123456000, time.UTC)
	for _, v := range []any{want.Format(SQLiteTime), []byte(want.Format(SQLiteTime)), want.In(time.FixedZone("X", 3600))} {
		var got time.Time
		if err := (timeCol{&got}).Scan(v); err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("Scan(%v) = %v, %v", v, got, err)
		}
	}
	var got time.Time
	if err := (timeCol{&got}).Scan("yesterday"); err == nil {
		t.Error("Scan(yesterday) accepted")
	}
	// Fixed width keeps text order equal to time order in SQLite.
	a, b := want.Format(SQLiteTime), want.Add(time.Second-123456*time.Microsecond).Format(SQLiteTime)
	if len(a) != len(b) || a >= b {
		t.Errorf("%q and %q do not sort as times", a, b)
	}
}

func TestJSONArg(t *testing.T) {
	if v, err := jsonArg("x", nil); v != nil || err != nil {
		t.Errorf("jsonArg(nil) = %v, %v; want NULL", v, err)
	}
	if v, err := jsonArg("x", json.RawMessage(`{"a": 1}`)); v != `{"a": 1}` || err != nil {
		t.Errorf("jsonArg = %v, %v", v, err)
	}
	if _, err := jsonArg("plan", json.RawMessage(`{`)); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("jsonArg(bad) = %v, want ErrInvalid", err)
	}
	var j json.RawMessage
	if err := (jsonCol{&j}).Scan(nil); err != nil || j != nil {
		t.Errorf("jsonCol(NULL) = %s, %v", j, err)
	}
}
