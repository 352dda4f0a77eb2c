package agent

import (
	"errors"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/target"
)

func TestValidate(t *testing.T) {
	good := func() target.Desired { return desired(hello("v1", 60, 1), hello("v2", 40, 1)) }
	cases := map[string]struct {
		edit func(*target.Desired)
		want string
	}{
		"ok":            {func(*target.Desired) {}, ""},
		"no listen":     {func(d *target.Desired) { d.Listen = "" }, "listen address missing"},
		"bad service":   {func(d *target.Desired) { d.Service = "a/b" }, "must be names"},
		"no versions":   {func(d *target.Desired) { d.Versions = nil }, ""},
		"twice":         {func(d *target.Desired) { d.Versions[1].Version = "v1" }, `"v1" listed twice`},
		"weight range":  {func(d *target.Desired) { d.Versions[0].Weight = 160; d.Versions[1].Weight = -60 }, "outside 0–100"},
		"sum":           {func(d *target.Desired) { d.Versions[1].Weight = 30 }, "add up to 90%"},
		"no command":    {func(d *target.Desired) { d.Versions[0].Run.Command = "" }, "run.command missing"},
		"header inject": {func(d *target.Desired) { d.VersionHeader = "X-V\r\nSet-Cookie: a=b" }, "version_header"},
		"cookie name":   {func(d *target.Desired) { d.Sticky = &target.Sticky{Cookie: "a;b"} }, "sticky.cookie"},
	}
	for name, c := range cases {
		d := good()
		c.edit(&d)
		err := validate(&d)
		if c.want == "" {
			if err != nil || len(d.Versions) > 0 && d.Versions[0].Health.Interval == 0 || d.DrainTimeout == 0 {
				t.Errorf("%s: %v (defaults %+v)", name, err, d.Versions[0].Health)
			}
			continue
		}
		if !errors.Is(err, target.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want ErrInvalid with %q", name, err, c.want)
		}
	}
}

func TestSameAddr(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"0.0.0.0:8080", "[::]:8080", true}, {":8080", "[::]:8080", true}, {"127.0.0.1:8080", "127.0.0.1:8080", true},
		{"0.0.0.0:8080", "[::]:8081", false}, {"127.0.0.1:8080", "[::]:8080", false},
	} {
		if got := sameAddr(c.a, c.b); got != c.want {
			t.Errorf("sameAddr(%q, %q) = %v", c.a, c.b, got)
		}
	}
}
