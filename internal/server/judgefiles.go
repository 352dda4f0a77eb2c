package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/belay-dev/belay/internal/analysis"
)

// stepFiles keeps analyzers as <dir>/<rollout>-<step>.json, each written
// atomically (temp file, fsync, rename) so a crash leaves the old or the
// new state, never half of one.
type stepFiles struct{ dir string }

func (f stepFiles) path(id string, step int) string {
	return filepath.Join(f.dir, fmt.Sprintf("%s-%d.json", safeName(id), step))
}

// load returns the saved analyzer, or nil when there is none.
func (f stepFiles) load(id string, step int) (*analysis.Analyzer, error) {
	if f.dir == "" {
		return nil, nil
	}
	b, err := os.ReadFile(f.path(id, step))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var a analysis.Analyzer
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("%s: %w", f.path(id, step), err)
	}
	return &a, nil
}

func (f stepFiles) save(id string, step int, a *analysis.Analyzer) error {
	if f.dir == "" {
		return nil
	}
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(f.dir, ".analysis-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename this finds nothing
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), f.path(id, step))
}

// removeOthers deletes rollout id's files except step keep (-1: all).
func (f stepFiles) removeOthers(id string, keep int) error {
	if f.dir == "" {
		return nil
	}
	prefix := safeName(id) + "-"
	ents, err := os.ReadDir(f.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSuffix(rest, ".json"))
		if err != nil || !strings.HasSuffix(rest, ".json") || n == keep {
			continue
		}
		if err := os.Remove(filepath.Join(f.dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// safeName keeps an ID usable as a file name (IDs are decimal row IDs today).
func safeName(id string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' {
			return r
		}
		return '_'
	}, id)
}
