package migration

import (
	"os"
	"path/filepath"
	"slices"
)

// ReadFiles reads the files under dir matching globs (relative to dir), in
// name order, the order migration tools apply them in, each named relative
// to dir with slashes; a file matched by two globs is read once.
func ReadFiles(dir string, globs []string) ([]File, error) {
	seen := map[string]bool{}
	var names []string
	for _, g := range globs {
		matches, err := filepath.Glob(filepath.Join(dir, g))
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			rel, _ := filepath.Rel(dir, m)
			if !seen[rel] {
				seen[rel] = true
				names = append(names, rel)
			}
		}
	}
	slices.Sort(names)
	out := make([]File, 0, len(names))
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		out = append(out, File{Name: filepath.ToSlash(n), SQL: string(b)})
	}
	return out, nil
}
