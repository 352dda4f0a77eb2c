// Package migration checks PostgreSQL migration files before they ship: it
// parses them with PostgreSQL's own parser (pg_query), flags each statement
// that breaks the previous version (contract), risks stalling the database
// (lock hazard) or depends on the data, and derives the release plan's
// migration_type from what it found.
package migration

import (
	"errors"
	"fmt"

	"github.com/belay-dev/belay/internal/spec"
)

// Class says what a statement does to a release.
type Class string

// Classes, from harmless to breaking.
const (
	// Expand keeps the previous version working and is safe to run while it serves.
	Expand Class = "expand"
	// DataDependent is safe or not depending on the rows present, which a static check cannot see.
	DataDependent Class = "data_dependent"
	// LockHazard keeps the schema compatible but may block reads or writes while it runs.
	LockHazard Class = "lock_hazard"
	// Contract breaks the previous version, so rolling back to it fails.
	Contract Class = "contract"
)

func (c Class) rank() int {
	switch c {
	case DataDependent:
		return 1
	case LockHazard:
		return 2
	case Contract:
		return 3
	}
	return 0
}

// Severity says whether a finding blocks an expand_only release (error:
// contract and lock hazards) or is shown for a reviewer only (warning: the
// data-dependent).
type Severity string

// Severities.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// ErrParse is wrapped by the error for a file that does not parse.
var ErrParse = errors.New("does not parse")

// ErrDirective is wrapped by the error for a belay:ignore comment that
// names no rule belay has.
var ErrDirective = errors.New("bad belay:ignore comment")

// PositionError is an error at a place in a migration file.
type PositionError struct {
	File         string
	Line, Column int
	Err          error
}

func (e *PositionError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %v", e.File, e.Line, e.Column, e.Err)
}

func (e *PositionError) Unwrap() error { return e.Err }

// File is one migration file: its name (for messages) and its SQL.
type File struct {
	Name string
	SQL  string
}

// Options change how files are read.
type Options struct {
	// AssumeInTransaction treats each file as wrapped in a transaction, as
	// many migration tools run them (squawk's --assume-in-transaction).
	AssumeInTransaction bool
}

// Finding is one rule flagging one statement.
type Finding struct {
	File        string   `json:"file"`
	Line        int      `json:"line"`
	Column      int      `json:"column"`
	Statement   string   `json:"statement"`
	Rule        string   `json:"rule"`
	Class       Class    `json:"class"`
	Severity    Severity `json:"severity"`
	Explanation string   `json:"explanation"`
	Rewrite     string   `json:"rewrite"`
	// Ignored is set when a belay:ignore comment before the statement names
	// the rule; IgnoreReason is the rest of that comment. An ignored finding
	// is reported but counts for nothing.
	Ignored      bool   `json:"ignored,omitempty"`
	IgnoreReason string `json:"ignore_reason,omitempty"`
}

// Statement is one statement that changes something, with its class: the
// most severe class of its findings that are not ignored, else expand.
// SET, SHOW, transaction control, plain SELECT and EXPLAIN are not listed.
type Statement struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Text   string `json:"text"`
	Class  Class  `json:"class"`
}

// Report is the result of checking a set of migration files.
type Report struct {
	// MigrationType is what the files give a release plan: none without
	// statements that change anything; contract when a statement contracts
	// or hazards a lock; else (expand and data_dependent) expand_only.
	MigrationType spec.MigrationType `json:"migration_type"`
	Files         []string           `json:"files"`
	Statements    []Statement        `json:"statements"`
	Findings      []Finding          `json:"findings"`
	// Classes counts Statements by class.
	Classes map[Class]int `json:"classes"`
}

// Check checks files with the default options.
func Check(files []File) (Report, error) { return CheckWith(files, Options{}) }

// CheckWith checks files in order, each on its own (a table created in one
// file is an existing table in the next). Every file that does not parse is
// an error naming its position; then there is no report.
func CheckWith(files []File, opt Options) (Report, error) {
	rep := Report{Files: []string{}, Statements: []Statement{}, Findings: []Finding{}, Classes: map[Class]int{}}
	var errs []error
	for _, f := range files {
		rep.Files = append(rep.Files, f.Name)
		stmts, err := split(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		st := newFileState(opt)
		for _, s := range stmts {
			hits := st.check(s.node)
			if s.neutral {
				continue // only require-lock-timeout bookkeeping; never flagged
			}
			class := Expand
			for _, h := range hits {
				fd := s.finding(f.Name, h)
				if !fd.Ignored && fd.Class.rank() > class.rank() {
					class = fd.Class
				}
				rep.Findings = append(rep.Findings, fd)
			}
			rep.Statements = append(rep.Statements, Statement{File: f.Name, Line: s.line, Column: s.col, Text: s.text, Class: class})
			rep.Classes[class]++
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Report{}, err
	}
	rep.MigrationType = migrationType(rep)
	return rep, nil
}

// migrationType maps the statements' classes onto belay's three values.
// A lock hazard gives contract: expand_only promises that the migration
// can run while the previous version serves, and one that may stall the
// table breaks that promise just as a dropped column breaks rollback, so
// either must be accepted explicitly in the release plan.
func migrationType(r Report) spec.MigrationType {
	switch {
	case len(r.Statements) == 0:
		return spec.NoMigration
	case r.Classes[Contract] > 0 || r.Classes[LockHazard] > 0:
		return spec.Contract
	}
	return spec.ExpandOnly
}
