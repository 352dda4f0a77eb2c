package hook

import "testing"

func TestBoundedKeepsHeadAndTail(t *testing.T) {
	b := newBounded(8)
	for _, s := range []string{"ab", "cdef", "ghij", "kl"} {
		b.Write([]byte(s))
	}
	if !b.Truncated() {
		t.Fatal("not truncated")
	}
	if got, want := b.String(), "abcd\n… 4 bytes omitted …\nijkl"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestBoundedUnderLimit(t *testing.T) {
	b := newBounded(8)
	b.Write([]byte("abcdefgh"))
	if b.Truncated() || b.String() != "abcdefgh" {
		t.Fatalf("got %q truncated=%v", b.String(), b.Truncated())
	}
}
