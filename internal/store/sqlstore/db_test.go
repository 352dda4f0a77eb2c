package sqlstore

import (
	"testing"
	"time"
)

func TestRebind(t *testing.T) {
	q := "SELECT a FROM t WHERE (? = '' OR b = ?) AND c = ?"
	if got := rebind(q, false); got != q {
		t.Errorf("rebind(unnumbered) = %q", got)
	}
	if got, want := rebind(q, true), "SELECT a FROM t WHERE ($1 = '' OR b = $2) AND c = $3"; got != want {
		t.Errorf("rebind = %q, want %q", got, want)
	}
}

func TestNorm(t *testing.T) {
	in := time.Date(2026, 5, 12, 12, 0, 0, 123456789, time.FixedZone("CEST", 7200))
	got := Norm(in)
	if got.Location() != time.UTC || got.Nanosecond() != 123456000 || !got.Equal(in.Truncate(time.Microsecond)) {
		t.Errorf("Norm(%v) = %v", in, got)
	}
}
