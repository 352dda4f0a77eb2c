package rollout

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/target"
)

var t0 = time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC)

func testConfig() Config {
	stable := target.Version{Version: "api-v1", Instances: 1}
	return Config{
		ID: "r1", Service: "api", Environment: "production", Strategy: CanaryStrategy,
		New: target.Version{Version: "api-v2", Instances: 1}, Stable: &stable,
		Steps: []Step{{Weight: 10, MinDuration: time.Minute}, {Weight: 50, MinDuration: time.Minute}, {Weight: 100, MinDuration: time.Minute}},
	}
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Service = "" }, "id, service and environment are required"},
		{func(c *Config) { c.New.Version = "" }, "new version is required"},
		{func(c *Config) { c.Stable.Version = "api-v2" }, "already stable"},
		{func(c *Config) { c.Strategy = "blue_green" }, `strategy "blue_green": use all_at_once, canary or staged`},
		{func(c *Config) { c.Steps = []Step{{Weight: 50, MinDuration: 0}, {Weight: 25, MinDuration: 0}} }, "step 2: weight 25 must be above 50"},
		{func(c *Config) { c.Steps = []Step{{Weight: 150, MinDuration: 0}} }, "step 1: weight 150"},
		{func(c *Config) { c.Inconclusive = "ignore" }, `inconclusive policy "ignore"`},
	} {
		c := testConfig()
		tc.edit(&c)
		_, err := New(c, t0)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}

func TestNewNormalisesSteps(t *testing.T) {
	c := testConfig()
	c.Steps = []Step{{Weight: 5, MinDuration: time.Minute}, {Weight: 30, MinDuration: 2 * time.Minute}}
	s, err := New(c, t0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Step{{Weight: 5, MinDuration: time.Minute}, {Weight: 30, MinDuration: 2 * time.Minute}, {Weight: 100, MinDuration: 2 * time.Minute}}; !reflect.DeepEqual(s.Steps, want) {
		t.Errorf("steps %v", s.Steps)
	}
	c.Strategy, c.Steps = AllAtOnce, nil
	if s, _ = New(c, t0); !reflect.DeepEqual(s.Steps, []Step{{Weight: 100, MinDuration: 0}}) || s.Inconclusive != Extend || s.Phase != Pending {
		t.Errorf("all_at_once: %+v", s)
	}
	c.Strategy = Staged
	if s, _ = New(c, t0); !reflect.DeepEqual(s.Steps, DefaultSteps) {
		t.Errorf("staged default steps %v", s.Steps)
	}
}

// State survives JSON, as every store keeps it.
func TestStateJSONRoundTrip(t *testing.T) {
	s, _ := New(testConfig(), t0)
	s = walk(t, s, Observation{Kind: Tick}, Observation{Kind: Done}, Observation{Kind: Done}, Observation{Kind: Done}, Observation{Kind: Done})
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back State
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Fatalf("round trip changed the state:\n%+v\n%+v", s, back)
	}
	if s.Phase != Canary || !s.StepStarted.Equal(t0) {
		t.Errorf("walked to %s, step started %v", s.Phase, s.StepStarted)
	}
}

// walk feeds observations, stamping Done/Failure/Judged with the current Seq.
func walk(t *testing.T, s State, obs ...Observation) State {
	t.Helper()
	for _, o := range obs {
		if o.Kind != Tick && o.Kind != Manual {
			o.Seq = s.Seq
		}
		s, _ = Next(s, o, t0)
	}
	return s
}
