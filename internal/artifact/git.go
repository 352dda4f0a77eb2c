package artifact

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// git runs git in dir and returns its trimmed standard output.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s (in %s): %v: %s", strings.Join(args, " "), dir, err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// commitInfo is what a build needs to know about its commit.
type commitInfo struct {
	SHA      string
	Time     time.Time
	Toplevel string // the repository's root
	Prefix   string // the project directory relative to the root ("" or "sub/")
	Source   string // the origin remote URL, if any
}

func resolveCommit(ctx context.Context, dir, rev string) (commitInfo, error) {
	var ci commitInfo
	var err error
	if ci.Toplevel, err = git(ctx, dir, "rev-parse", "--show-toplevel"); err != nil {
		return ci, fmt.Errorf("%s is not in a git repository: belay builds commits: %w", dir, err)
	}
	if ci.Prefix, err = git(ctx, dir, "rev-parse", "--show-prefix"); err != nil {
		return ci, err
	}
	if ci.SHA, err = git(ctx, dir, "rev-parse", "--verify", "--quiet", rev+"^{commit}"); err != nil {
		return ci, fmt.Errorf("unknown commit %q in %s: give a commit, branch or tag to --commit", rev, ci.Toplevel)
	}
	ts, err := git(ctx, dir, "show", "-s", "--format=%ct", ci.SHA)
	if err != nil {
		return ci, err
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ci, fmt.Errorf("commit time of %s: %q: %w", ci.SHA, ts, err)
	}
	ci.Time = time.Unix(sec, 0).UTC()
	ci.Source, _ = git(ctx, dir, "config", "--get", "remote.origin.url")
	return ci, nil
}

// isDirty reports uncommitted changes to tracked files; untracked files (a
// .belay directory, editor droppings) do not change what a commit builds.
func isDirty(ctx context.Context, dir string) (bool, error) {
	out, err := git(ctx, dir, "status", "--porcelain", "--untracked-files=no")
	return out != "", err
}

// sourceRefs are the git refs a build of rev (resolved to sha) comes from,
// as full names, sorted: the branch rev names, or else the checked-out
// branch when HEAD is at sha; and every tag that points at sha. A protected
// environment admits an artifact by these (spec.Protection.AllowsRef).
func sourceRefs(ctx context.Context, dir, rev, sha string) ([]string, error) {
	var refs []string
	full, _ := git(ctx, dir, "rev-parse", "--symbolic-full-name", rev) // "" for a commit id or HEAD~1
	if strings.HasPrefix(full, "refs/heads/") {
		refs = append(refs, full)
	} else if head, err := git(ctx, dir, "symbolic-ref", "-q", "HEAD"); err == nil && strings.HasPrefix(head, "refs/heads/") {
		// symbolic-ref fails on a detached HEAD: then there is no branch to record.
		if at, err := git(ctx, dir, "rev-parse", "HEAD"); err == nil && at == sha {
			refs = append(refs, head)
		}
	}
	tags, err := git(ctx, dir, "tag", "--points-at", sha)
	if err != nil {
		return nil, err
	}
	for _, t := range strings.Fields(tags) {
		refs = append(refs, "refs/tags/"+t)
	}
	slices.Sort(refs)
	return refs, nil
}
