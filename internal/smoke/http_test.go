package smoke

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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

// A request that gets no answer (the connection closed under it, as when
// the proxy in front of the version restarts) is sent again; a wrong answer
// is not, and a connection that never answers fails at the test's timeout.
func TestNoAnswerIsRetriedWrongAnswerIsNot(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n := calls.Add(1); {
		case r.URL.Path == "/flaky" && n == 1, r.URL.Path == "/dead":
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close() // no answer at all
		case r.URL.Path == "/wrong":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			fmt.Fprint(w, "hello")
		}
	}))
	defer srv.Close()
	run := func(path string) Result {
		calls.Store(0)
		return runHTTP(context.Background(), srv.Client(), srv.URL, Test{Name: path, Timeout: time.Second, HTTP: &HTTP{Path: path, BodyContains: "hello"}})
	}
	if r := run("/flaky"); !r.Passed || r.Attempts != 2 || calls.Load() != 2 || r.Duration <= 0 {
		t.Fatalf("flaky: %+v after %d calls; want passed on the 2nd attempt, with a duration", r, calls.Load())
	}
	if r := run("/wrong"); r.Passed || r.Attempts != 0 || calls.Load() != 1 || r.Error != "status 500, want 200" {
		t.Fatalf("wrong answer: %+v after %d calls; want failed at once", r, calls.Load())
	}
	if r := run("/dead"); r.Passed || r.Attempts < 3 || r.Duration < time.Second || r.Error == "" {
		t.Fatalf("dead: %+v after %d calls; want failed at the 1s timeout after several attempts", r, calls.Load())
	}
}
