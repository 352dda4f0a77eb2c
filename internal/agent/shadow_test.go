package agent

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/target"
)

// A shadow version takes no traffic: users are answered by stable alone,
// while copies of their GETs reach the shadow after the fact, and the pairs
// of answers are counted on the shadow version's counters and metrics.
func TestShadowCopiesRequestsAfterStableAnswers(t *testing.T) {
	a := newAgent(t, "")
	d := desired(hello("v1", 100, 1), hello("v2", 0, 1, "ERROR_RATE", "1"))
	d.Shadow = &target.Shadow{Version: "v2", Share: 100}
	url := apply(t, a, d)
	for range 50 {
		v, err := served(http.DefaultClient, url)
		if err != nil || v != "v1" {
			t.Fatalf("a user was answered by %q (%v); want v1 alone", v, err)
		}
	}
	var sh *target.ShadowCounters
	waitFor(t, "50 pairs counted", func() bool {
		cs, err := a.Counters(context.Background(), "test", "hello")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.Version == "v2" {
				sh = c.Shadow
				if c.Requests != 0 {
					t.Fatalf("v2 counted %d user requests; a shadow serves none", c.Requests)
				}
			}
		}
		return sh != nil && sh.NewFailed == 50
	})
	if sh.Sent != 50 || sh.BothOK != 0 || len(sh.NewLatencyCounts) == 0 {
		t.Fatalf("shadow counters %+v; want 50 sent, each a pair where only the copy failed", sh)
	}
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if want := `belay_shadow_pairs_total{environment="test",outcome="new_failed",service="hello",version="v2"} 50`; !strings.Contains(rec.Body.String(), want) {
		t.Fatalf("/metrics lacks %s", want)
	}
	// A POST is answered by stable and never copied.
	resp, err := http.Post(url+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	waitFor(t, "the POST counted as not copied", func() bool {
		cs, _ := a.Counters(context.Background(), "test", "hello")
		for _, c := range cs {
			if c.Version == "v2" && c.Shadow != nil {
				return c.Shadow.Dropped["method"] == 1 && c.Shadow.Sent == 50
			}
		}
		return false
	})
}

func TestShadowMustNameAVersionWithoutTraffic(t *testing.T) {
	a := newAgent(t, "")
	for _, c := range []struct {
		shadow *target.Shadow
		want   string
	}{
		{&target.Shadow{Version: "v1", Share: 100}, "shadow version v1 takes 100% of traffic; a shadow takes none (weight 0)"},
		{&target.Shadow{Version: "v3", Share: 100}, `shadow version "v3" is not one of the versions`},
		{&target.Shadow{Version: "v2", Share: 150}, "shadow share 150% outside (0, 100]"},
		{&target.Shadow{Version: "v2", Share: 10, Methods: []string{"post"}}, `shadow method "post": not an HTTP method name in capitals`},
	} {
		d := desired(hello("v1", 100, 1), hello("v2", 0, 1))
		d.Shadow = c.shadow
		err := a.Apply(context.Background(), d)
		if !errors.Is(err, target.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("shadow %+v: %v; want ErrInvalid saying %q", c.shadow, err, c.want)
		}
	}
}
