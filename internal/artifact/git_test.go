package artifact

import (
	"context"
	"slices"
	"testing"
)

// sourceRefs records the branch a build names or stands on, and every tag
// of the commit, lightweight or annotated.
func TestSourceRefs(t *testing.T) {
	ctx := context.Background()
	dir := gitRepo(t)
	first := run(t, dir, "git", "rev-parse", "HEAD")
	run(t, dir, "git", "branch", "feature-x")
	run(t, dir, "git", "tag", "light")
	run(t, dir, "git", "-c", "user.name=t", "-c", "user.email=t@example.com", "tag", "-a", "-m", "release", "v1.0.0")
	commit(t, dir, "second", "2026-05-13T10:00:00Z")
	second := run(t, dir, "git", "rev-parse", "HEAD")

	check := func(rev, sha string, want ...string) {
		t.Helper()
		got, err := sourceRefs(ctx, dir, rev, sha)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("sourceRefs(%s): %v %v, want %v", rev, got, err, want)
		}
	}
	check("HEAD", second, "refs/heads/main")                                                 // the checked-out branch
	check(second, second, "refs/heads/main")                                                 // HEAD is at the commit
	check("feature-x", first, "refs/heads/feature-x", "refs/tags/light", "refs/tags/v1.0.0") // the named branch, not main
	check(first, first, "refs/tags/light", "refs/tags/v1.0.0")                               // main has moved on: tags only
	check("v1.0.0", first, "refs/tags/light", "refs/tags/v1.0.0")
	check("HEAD~1", first, "refs/tags/light", "refs/tags/v1.0.0")

	run(t, dir, "git", "checkout", "-q", "--detach", "HEAD")
	check("HEAD", second) // detached: no branch, no tag
	run(t, dir, "git", "checkout", "-q", "feature-x")
	check("HEAD", first, "refs/heads/feature-x", "refs/tags/light", "refs/tags/v1.0.0")
}
