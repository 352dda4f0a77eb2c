package server

import "testing"

// TestLocalPathStaysOnSite: after login the dashboard goes only to a path of
// its own; anything a browser could read as another site goes to /.
func TestLocalPathStaysOnSite(t *testing.T) {
	for in, want := range map[string]string{
		"/rollouts/7":          "/rollouts/7",
		"/timeline/api/prod?x": "/timeline/api/prod?x",
		"//evil.example":       "/",
		"/\\evil.example":      "/",
		"/\t/evil.example":     "/",
		"/\n/evil.example":     "/",
		"/a\\b":                "/",
		"https://evil.example": "/",
		"/login?next=/":        "/",
		"":                     "/",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}
