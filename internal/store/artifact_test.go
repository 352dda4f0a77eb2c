package store

import "testing"

func TestIsDigest(t *testing.T) {
	for ref, want := range map[string]bool{
		"sha256:abc":                 true,
		"sha512:0f":                  true,
		"api-2026.05.12-8f3a91c":     false,
		"":                           false,
		"sha256:":                    false,
		"registry.local/api:v1":      false,
		"localhost:5000/api-2026.05": false,
	} {
		if got := IsDigest(ref); got != want {
			t.Errorf("IsDigest(%q) = %v, want %v", ref, got, want)
		}
	}
}
