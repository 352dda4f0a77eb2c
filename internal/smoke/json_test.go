package smoke

import "testing"

func TestCheckJSON(t *testing.T) {
	body := []byte(`{"a":{"b":[1,{"c":"x"}],"n":2.5,"ok":false,"nil":null}}`)
	for _, tc := range []struct {
		want map[string]any
		ok   bool
	}{
		{map[string]any{"a.b.0": 1, "a.b.1.c": "x", "a.n": 2.5, "a.ok": false, "a.nil": nil}, true},
		{map[string]any{"a.b.0": "1", "a.ok": "false"}, true},
		{map[string]any{"a.b.1": map[string]any{"c": "x"}}, true},
		{map[string]any{"a.b.2": 1}, false},
		{map[string]any{"a.b.x": 1}, false},
		{map[string]any{"a.n": 2}, false},
		{map[string]any{"a.b.1.c": "y"}, false},
		{map[string]any{"a.n.z": 1}, false},
	} {
		got := checkJSON(body, tc.want)
		if (got == "") != tc.ok {
			t.Errorf("%v: %q, want ok=%v", tc.want, got, tc.ok)
		}
	}
	if got := checkJSON([]byte("<html>"), map[string]any{"a": 1}); got == "" {
		t.Error("non-JSON body passed")
	}
}
