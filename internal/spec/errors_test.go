package spec

import (
	"errors"
	"testing"
)

func TestErrorsFormatSortAndUnwrap(t *testing.T) {
	es := Errors{
		{File: "b.yaml", Pos: Pos{3, 1}, Path: "x", Msg: "third"},
		{File: "b.yaml", Pos: Pos{1, 5}, Path: "y", Msg: "second"},
		{File: "b.yaml", Pos: Pos{1, 2}, Msg: "first"},
		{File: "b.yaml", Pos: Pos{1, 5}, Path: "y", Msg: "second"},
		{File: "b.yaml", Pos: Pos{Line: 7}, Msg: "no column", Err: ErrTrigger},
	}.sorted()
	want := "b.yaml:1:2: first\nb.yaml:1:5: y: second\nb.yaml:3:1: x: third\nb.yaml:7: no column"
	if es.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", es.Error(), want)
	}
	var err error = es
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, ErrTrigger) || errors.Is(err, ErrVersion) {
		t.Error("Unwrap does not expose ErrInvalid and causes")
	}
	var e *Error
	if !errors.As(err, &e) || e.Msg != "first" {
		t.Errorf("As gave %v", e)
	}
}
