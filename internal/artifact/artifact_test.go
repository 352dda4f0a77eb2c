package artifact

import (
	"testing"
	"time"
)

func TestVersionName(t *testing.T) {
	ct := time.Date(2026, 5, 12, 23, 30, 0, 0, time.FixedZone("x", -3*3600))
	got := VersionName("api", ct, "8f3a91c0123456789")
	if got != "api-2026.05.13-8f3a91c" {
		t.Fatalf("VersionName = %q", got)
	}
}

func TestMetadataRoundTrip(t *testing.T) {
	m := Metadata{Service: "api", Version: "api-2026.05.12-8f3a91c", Commit: "8f3a91c", Created: time.Date(2026, 5, 12, 1, 2, 3, 0, time.UTC), Source: "https://x/y", Dirty: true}
	a := m.Annotations()
	if a[AnnotationCreated] != "2026-05-12T01:02:03Z" || a[AnnotationDirty] != "true" {
		t.Fatalf("annotations %v", a)
	}
	if got := MetadataFrom(a); got != m {
		t.Fatalf("round trip: %+v != %+v", got, m)
	}
	delete(a, AnnotationDirty)
	if MetadataFrom(a).Dirty {
		t.Fatal("dirty without the marker")
	}
}
