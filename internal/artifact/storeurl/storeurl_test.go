package storeurl

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ url, want, err string }{
		{"", filepath.Join(dir, "def"), ""},
		{"file://" + filepath.Join(dir, "x"), filepath.Join(dir, "x"), ""},
		{filepath.Join(dir, "y"), filepath.Join(dir, "y"), ""},
		{"oci://127.0.0.1:5000/belay/apps", "oci://127.0.0.1:5000/belay/apps", ""},
		{"oci://127.0.0.1:5000", "", "name a repository"},
		{"s3://bucket", "", "unknown kind"},
	} {
		s, err := Open(tc.url, filepath.Join(dir, "def"))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Open(%q) error %v, want %q", tc.url, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Open(%q): %v", tc.url, err)
		}
		if got := s.(interface{ String() string }).String(); got != tc.want {
			t.Errorf("Open(%q) = %s, want %s", tc.url, got, tc.want)
		}
	}
}
