package english

import (
	"testing"
	"time"
)

func TestCount(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{Count(0, "request"), "0 requests"},
		{Count(1, "request"), "1 request"},
		{Count(int64(2), "request"), "2 requests"},
		{Count(-1, "request"), "-1 request"},
	} {
		if c.got != c.want {
			t.Errorf("%q, want %q", c.got, c.want)
		}
	}
}

func TestAgo(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Minute, "just now"},
		{0, "just now"},
		{999 * time.Millisecond, "just now"},
		{40*time.Second + 900*time.Millisecond, "40 s ago"},
		{12*time.Minute + 59*time.Second, "12 min ago"},
		{time.Hour, "1 h ago"},
		{47*time.Hour + 59*time.Minute, "47 h ago"},
		{50 * time.Hour, "2 days ago"},
	} {
		if got := Ago(c.d); got != c.want {
			t.Errorf("Ago(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}
