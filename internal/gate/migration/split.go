package migration

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"
)

// stmt is one parsed statement and where it is.
type stmt struct {
	node      *pg.Node
	line, col int
	text      string
	neutral   bool              // changes nothing: SET, SHOW, BEGIN, COMMIT, SELECT, EXPLAIN
	ignore    map[string]string // rule id → reason, from belay:ignore comments before it
}

// hit is a rule flagging a statement, with what it found when that says
// more than the rule's general explanation.
type hit struct {
	rule   string
	detail string
}

func (s stmt) finding(file string, h hit) Finding {
	r := rules[h.rule]
	expl := r.Explanation
	if h.detail != "" {
		expl = h.detail + " " + expl
	}
	reason, ignored := s.ignore[h.rule]
	return Finding{
		File: file, Line: s.line, Column: s.col, Statement: s.text,
		Rule: r.ID, Class: r.Class, Severity: r.Severity, Explanation: expl, Rewrite: r.Rewrite,
		Ignored: ignored, IgnoreReason: reason,
	}
}

// split parses a file into statements, each with its position (that of its
// first token, past leading comments) and the belay:ignore comments that
// precede it.
func split(f File) ([]stmt, error) {
	ln := newLines(f.SQL)
	tree, err := pg.Parse(f.SQL)
	if err != nil {
		// PostgreSQL's cursor counts characters from 1; "at end of input"
		// points past trailing blank lines, so it is pulled back to the
		// end of the last one that is not blank.
		at := len(f.SQL)
		var pe *parser.Error
		if errors.As(err, &pe) && pe.Cursorpos > 0 {
			at = ln.byteOffset(pe.Cursorpos)
		}
		at = min(at, len(strings.TrimRightFunc(f.SQL, unicode.IsSpace)))
		line, col := ln.at(at)
		msg := strings.ReplaceAll(err.Error(), "\n", `\n`) // one line, as the near-quote may hold a newline
		return nil, &PositionError{File: f.Name, Line: line, Column: col, Err: fmt.Errorf("%w: %s", ErrParse, msg)}
	}
	scan, err := pg.Scan(f.SQL)
	if err != nil { // cannot happen once the text parsed; say so rather than guess
		return nil, fmt.Errorf("%s: %w: scanning: %v", f.Name, ErrParse, err)
	}
	toks := scan.Tokens
	out := make([]stmt, 0, len(tree.Stmts))
	for _, raw := range tree.Stmts {
		from := int(raw.StmtLocation)
		to := len(f.SQL)
		if raw.StmtLen > 0 {
			to = from + int(raw.StmtLen)
		}
		s := stmt{node: raw.Stmt, neutral: isNeutral(raw.Stmt), ignore: map[string]string{}}
		start := to
		for len(toks) > 0 && int(toks[0].Start) < to {
			t := toks[0]
			toks = toks[1:]
			if int(t.Start) < from {
				continue
			}
			isComment := t.Token == pg.Token_SQL_COMMENT || t.Token == pg.Token_C_COMMENT
			if !isComment {
				start = min(start, int(t.Start))
				continue
			}
			if start == to && ln.lineStartsAt(int(t.Start)) {
				if err := s.directive(f.Name, ln, int(t.Start), f.SQL[t.Start:t.End]); err != nil {
					return nil, err
				}
			}
		}
		s.line, s.col = ln.at(start)
		s.text = strings.TrimSpace(f.SQL[start:to])
		out = append(out, s)
	}
	return out, nil
}

const directivePrefix = "belay:ignore"

// directive reads a comment before a statement: "-- belay:ignore id[,id…]
// [reason]" marks those rules' findings on the statement as ignored.
func (s *stmt) directive(file string, ln lines, at int, comment string) error {
	body := strings.TrimPrefix(comment, "--")
	if strings.HasPrefix(comment, "/*") {
		body = strings.TrimSuffix(strings.TrimPrefix(comment, "/*"), "*/")
	}
	body = strings.TrimSpace(body)
	rest, ok := strings.CutPrefix(body, directivePrefix)
	if !ok {
		return nil
	}
	fields := strings.Fields(rest)
	line, col := ln.at(at)
	if len(fields) == 0 {
		return &PositionError{File: file, Line: line, Column: col, Err: fmt.Errorf("%w: name the rules to ignore, e.g. -- belay:ignore %s", ErrDirective, BanDropColumn)}
	}
	reason := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), fields[0]))
	for _, id := range strings.Split(fields[0], ",") {
		if _, known := rules[id]; !known {
			return &PositionError{File: file, Line: line, Column: col, Err: fmt.Errorf("%w: no rule %q (see `belay gate migrations --help` or docs/gates.md)", ErrDirective, id)}
		}
		s.ignore[id] = reason
	}
	return nil
}

// isNeutral reports whether a statement changes nothing in the schema or
// the data.
func isNeutral(n *pg.Node) bool {
	switch {
	case n.GetTransactionStmt() != nil, n.GetVariableSetStmt() != nil, n.GetVariableShowStmt() != nil, n.GetExplainStmt() != nil:
		return true
	case n.GetSelectStmt() != nil:
		return n.GetSelectStmt().IntoClause == nil
	}
	return false
}
