package english

import "testing"

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
