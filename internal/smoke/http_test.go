package smoke

import (
	"strings"
	"testing"
)

func TestCheckAnswerDefaultsTo200(t *testing.T) {
	if got := checkAnswer(&HTTP{Path: "/"}, 204, nil); got != "status 204, want 200" {
		t.Fatalf("got %q", got)
	}
	if got := checkAnswer(&HTTP{Path: "/", ExpectStatus: 204}, 204, nil); got != "" {
		t.Fatalf("got %q", got)
	}
}

func TestExcerptBounds(t *testing.T) {
	if got := excerpt([]byte(strings.Repeat("x", 2000))); len(got) > maxExcerpt+4 {
		t.Fatalf("excerpt of %d bytes", len(got))
	}
}
