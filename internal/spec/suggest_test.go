package spec

import "testing"

func TestSuggest(t *testing.T) {
	known := []string{"health_check", "rollout", "services"}
	for in, want := range map[string]string{
		"helth_check":  ` (did you mean "health_check"?)`,
		"rolout":       ` (did you mean "rollout"?)`,
		"service":      ` (did you mean "services"?)`,
		"colour":       "",
		"":             "",
		"healthchecks": ` (did you mean "health_check"?)`,
	} {
		if got := suggest(in, known); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
	if suggest("x", nil) != "" {
		t.Error("suggestion from nothing")
	}
}
