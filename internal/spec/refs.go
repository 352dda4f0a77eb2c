package spec

import (
	"fmt"
	"regexp"
	"strings"
)

// Ref patterns name the branches and tags whose builds may enter a protected
// environment, as GitHub's deployment branch and tag policies do. A pattern
// is a branch or tag name, not a full ref (main, not refs/heads/main), where
// * matches any characters but /, ** matches any characters including /, and
// ? matches one character but /. Git ref names cannot hold *, ? or [, so a
// pattern never has to escape them; [ is refused rather than half supported.

// Full-ref prefixes a branch and a tag pattern match under.
const (
	BranchRefPrefix = "refs/heads/"
	TagRefPrefix    = "refs/tags/"
)

// RestrictsRefs reports whether the environment accepts only artifacts built
// from the listed branches or tags.
func (p *Protection) RestrictsRefs() bool {
	return p != nil && (len(p.Branches) > 0 || len(p.Tags) > 0)
}

// AllowsRef reports whether a full ref name (refs/heads/main,
// refs/tags/v1.2.0) matches one of the environment's branch or tag patterns.
// A branch pattern matches only refs/heads/…, a tag pattern only refs/tags/….
func (p *Protection) AllowsRef(ref string) bool {
	if p == nil {
		return false
	}
	if name, ok := strings.CutPrefix(ref, BranchRefPrefix); ok {
		return matchAny(p.Branches, name)
	}
	if name, ok := strings.CutPrefix(ref, TagRefPrefix); ok {
		return matchAny(p.Tags, name)
	}
	return false
}

func matchAny(patterns []string, name string) bool {
	for _, pat := range patterns {
		if MatchRefPattern(pat, name) {
			return true
		}
	}
	return false
}

// MatchRefPattern reports whether a branch or tag name matches pattern; an
// invalid pattern (which validation refuses) matches nothing.
func MatchRefPattern(pattern, name string) bool {
	re, err := refPatternRE(pattern)
	return err == nil && re.MatchString(name)
}

// refPatternRE compiles a pattern, or says what is wrong with it.
func refPatternRE(pattern string) (*regexp.Regexp, error) {
	if err := checkRefPattern(pattern); err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); {
		switch {
		case strings.HasPrefix(pattern[i:], "**"):
			b.WriteString(".*")
			i += 2
		case pattern[i] == '*':
			b.WriteString("[^/]*")
			i++
		case pattern[i] == '?':
			b.WriteString("[^/]")
			i++
		default:
			j := i + strings.IndexAny(pattern[i:]+"*", "*?")
			b.WriteString(regexp.QuoteMeta(pattern[i:j]))
			i = j
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// checkRefPattern refuses what could never match a git branch or tag name
// (git check-ref-format's rules), and full ref names.
func checkRefPattern(p string) error {
	switch {
	case strings.TrimSpace(p) == "":
		return fmt.Errorf("an empty pattern matches no branch or tag: remove it, or write one such as main or \"release/*\"")
	case strings.HasPrefix(p, "refs/"):
		return fmt.Errorf("pattern %q is a full ref name: write the branch or tag name without refs/heads/ or refs/tags/, e.g. %q", p, strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(p, "refs/"), "heads/"), "tags/"))
	case strings.Contains(p, "***"):
		return fmt.Errorf("pattern %q: write * (within one path segment) or ** (across /), not ***", p)
	case strings.Contains(p, "["):
		return fmt.Errorf("pattern %q: character classes ([…]) are not supported; use *, ** or ?", p)
	case strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//"):
		return fmt.Errorf("pattern %q: a branch or tag name neither starts nor ends with / nor holds //", p)
	case strings.Contains(p, "..") || strings.Contains(p, "@{"):
		return fmt.Errorf("pattern %q: a branch or tag name never holds .. or @{", p)
	}
	for _, r := range p {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(`~^:\`, r) {
			return fmt.Errorf("pattern %q: %q can never be in a branch or tag name", p, r)
		}
	}
	return nil
}

// checkRefRules validates a protection block's branches and tags.
func (d *decoder) checkRefRules(path string, pr *Protection) {
	for _, l := range []struct {
		field    string
		patterns []string
	}{{"branches", pr.Branches}, {"tags", pr.Tags}} {
		p := path + "." + l.field
		if d.set(p) && len(l.patterns) == 0 {
			d.errAt(p, "%s is empty: list at least one pattern, e.g. [main], or remove %s", l.field, l.field)
		}
		for i, pat := range l.patterns {
			if _, err := refPatternRE(pat); err != nil {
				d.errAt(index(p, i), "%v", err)
			}
		}
	}
}
