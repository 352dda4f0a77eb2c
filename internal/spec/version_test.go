package spec

import (
	"errors"
	"testing"
	"time"
)

func TestParseVersion(t *testing.T) {
	v, err := ParseVersion("api-2026.05.12-8f3a91c")
	if err != nil {
		t.Fatal(err)
	}
	if v.Service != "api" || !v.Date.Equal(time.Date(2026, 5, 12, 0, 0, 0, 0, time.UTC)) || v.SHA != "8f3a91c" || v.String() != "api-2026.05.12-8f3a91c" {
		t.Errorf("%+v", v)
	}
	v, err = ParseVersion("billing-api-2024.02.29-0123456789ab")
	if err != nil || v.Service != "billing-api" || v.SHA != "0123456789ab" {
		t.Errorf("%+v %v", v, err)
	}
	for _, bad := range []string{"", "api", "api-2026.05.12", "api-2026.5.12-8f3a91c", "api-2026.02.29-8f3a91c",
		"api-2026.13.01-8f3a91c", "api-2026.05.12-8f3a9", "api-2026.05.12-8f3a91c0123ab", "API-2026.05.12-8f3a91c",
		"-2026.05.12-8f3a91c", "api-2026.05.12-8f3a91g", "api-26.05.12-8f3a91c"} {
		if _, err := ParseVersion(bad); !errors.Is(err, ErrVersion) {
			t.Errorf("%q: accepted or wrong error: %v", bad, err)
		}
	}
}
