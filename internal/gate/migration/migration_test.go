package migration

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/spec"
)

var (
	wantType = regexp.MustCompile(`(?m)^-- migration_type: (\S+)$`)
	wantRule = regexp.MustCompile(`-- want ((?:[a-z-]+(?:\(ignored\))? ?)+)$`)
)

// TestTestdata checks every testdata/*.sql file against what it says of
// itself: its migration_type in a header, and on each statement's line the
// rules that must flag it ("-- want rule …", "rule(ignored)" for a finding
// a belay:ignore comment covers). A line without "want" must be clean.
func TestTestdata(t *testing.T) {
	paths, _ := filepath.Glob("testdata/*.sql")
	if len(paths) < 10 {
		t.Fatalf("found %d testdata files", len(paths))
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			text := string(data)
			rep, err := Check([]File{{Name: path, SQL: text}})
			if err != nil {
				t.Fatal(err)
			}
			m := wantType.FindStringSubmatch(text)
			if m == nil {
				t.Fatal("no -- migration_type: header")
			}
			if got := string(rep.MigrationType); got != m[1] {
				t.Errorf("migration_type = %s, want %s", got, m[1])
			}
			want := map[int][]string{}
			for i, line := range strings.Split(text, "\n") {
				if m := wantRule.FindStringSubmatch(line); m != nil {
					want[i+1] = strings.Fields(m[1])
				}
			}
			got := map[int][]string{}
			for _, f := range rep.Findings {
				if f.File != path || f.Column < 1 || f.Statement == "" || f.Explanation == "" || f.Rewrite == "" {
					t.Errorf("finding lacks its place or words: %+v", f)
				}
				id := f.Rule
				if f.Ignored {
					id += "(ignored)"
				}
				got[f.Line] = append(got[f.Line], id)
			}
			for line := range mergeKeys(want, got) {
				w, g := slices.Sorted(slices.Values(want[line])), slices.Sorted(slices.Values(got[line]))
				if !slices.Equal(w, g) {
					t.Errorf("line %d: findings %v, want %v", line, g, w)
				}
			}
		})
	}
}

func mergeKeys(a, b map[int][]string) map[int]bool {
	keys := map[int]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}

// TestBadFiles checks that each testdata/bad file fails with exactly the
// error its first line states, position included.
func TestBadFiles(t *testing.T) {
	paths, _ := filepath.Glob("testdata/bad/*.sql")
	if len(paths) == 0 {
		t.Fatal("no bad files")
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(data), "\n")
			want := strings.TrimPrefix(first, "-- error: ")
			_, err = Check([]File{{Name: filepath.Base(path), SQL: string(data)}})
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != want {
				t.Errorf("error\n got: %s\nwant: %s", err, want)
			}
			var pe *PositionError
			if !errors.As(err, &pe) || !(errors.Is(err, ErrParse) || errors.Is(err, ErrDirective)) {
				t.Errorf("error %v is not a PositionError wrapping ErrParse or ErrDirective", err)
			}
		})
	}
}

func TestEveryFileWithAParseErrorIsNamed(t *testing.T) {
	_, err := Check([]File{
		{Name: "a.sql", SQL: "ALTER TABLE t ADD COLUMN;"},
		{Name: "b.sql", SQL: "SET lock_timeout = '1s';\nALTER TABLE t ADD COLUMN c int;"},
		{Name: "c.sql", SQL: "\n\nDROP TABEL t;"},
	})
	if err == nil {
		t.Fatal("no error")
	}
	want := "a.sql:1:25: does not parse: syntax error at or near \";\"\nc.sql:3:6: does not parse: syntax error at or near \"TABEL\""
	if err.Error() != want {
		t.Errorf("error\n got: %s\nwant: %s", err, want)
	}
}

func TestStatementsAndClasses(t *testing.T) {
	sql := "SET lock_timeout = '1s';\n" +
		"ALTER TABLE t ADD COLUMN a int;\n" +
		"  /* leading */ ALTER TABLE t DROP COLUMN b;\n" +
		"CREATE INDEX i ON t (a);\n" +
		"UPDATE t SET a = 1;\n" +
		"ALTER TABLE t ALTER COLUMN a TYPE bigint,\n    DROP COLUMN c"
	rep, err := Check([]File{{Name: "m.sql", SQL: sql}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Statement{
		{File: "m.sql", Line: 2, Column: 1, Text: "ALTER TABLE t ADD COLUMN a int", Class: Expand},
		{File: "m.sql", Line: 3, Column: 17, Text: "ALTER TABLE t DROP COLUMN b", Class: Contract},
		{File: "m.sql", Line: 4, Column: 1, Text: "CREATE INDEX i ON t (a)", Class: LockHazard},
		{File: "m.sql", Line: 5, Column: 1, Text: "UPDATE t SET a = 1", Class: DataDependent},
		{File: "m.sql", Line: 6, Column: 1, Text: "ALTER TABLE t ALTER COLUMN a TYPE bigint,\n    DROP COLUMN c", Class: Contract},
	}
	if !slices.Equal(rep.Statements, want) {
		t.Errorf("statements:\n got %+v\nwant %+v", rep.Statements, want)
	}
	if rep.Classes[Expand] != 1 || rep.Classes[DataDependent] != 1 || rep.Classes[Contract] != 2 || rep.Classes[LockHazard] != 1 {
		t.Errorf("classes = %v", rep.Classes)
	}
	if rep.MigrationType != spec.Contract {
		t.Errorf("migration_type = %s", rep.MigrationType)
	}
	var warn *Finding
	for i, f := range rep.Findings {
		if f.Rule == UnbatchedDataChange {
			warn = &rep.Findings[i]
		}
	}
	if warn == nil || warn.Severity != Warning || warn.Class != DataDependent {
		t.Errorf("the whole-table UPDATE: %+v", warn)
	}
}

// A table created in one file is an existing table in the next.
func TestFilesAreCheckedOnTheirOwn(t *testing.T) {
	rep, err := Check([]File{
		{Name: "1.sql", SQL: "SET lock_timeout = '1s'; BEGIN; CREATE TABLE t (a int); CREATE INDEX i ON t (a); COMMIT;"},
		{Name: "2.sql", SQL: "CREATE INDEX j ON t (a);"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range rep.Findings {
		got = append(got, f.File+" "+f.Rule)
	}
	want := []string{"2.sql " + RequireLockTimeout, "2.sql " + RequireConcurrentIndexCreation}
	if !slices.Equal(got, want) {
		t.Errorf("findings %v, want %v", got, want)
	}
}

func TestAssumeInTransaction(t *testing.T) {
	sql := "SET lock_timeout = '1s';\nCREATE TABLE t (a int);\nCREATE INDEX i ON t (a);\n" +
		"ALTER TABLE u ADD CONSTRAINT c CHECK (b > 0) NOT VALID;\nALTER TABLE u VALIDATE CONSTRAINT c;"
	rules := func(opt Options) []string {
		rep, err := CheckWith([]File{{Name: "m.sql", SQL: sql}}, opt)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, f := range rep.Findings {
			ids = append(ids, f.Rule)
		}
		return ids
	}
	if got, want := rules(Options{}), []string{RequireConcurrentIndexCreation}; !slices.Equal(got, want) {
		t.Errorf("outside a transaction: %v, want %v", got, want)
	}
	if got, want := rules(Options{AssumeInTransaction: true}), []string{ConstraintMissingNotValid}; !slices.Equal(got, want) {
		t.Errorf("assuming a transaction: %v, want %v", got, want)
	}
}

func TestVolatileDefaults(t *testing.T) {
	for def, volatile := range map[string]bool{
		"10": false, "-1": false, "'x'": false, "true": false, "NULL": false, "2 + 2": false,
		"now()": false, "pg_catalog.now()": false, "current_timestamp": false, "current_date": false,
		"now() - interval '1 day'": false, "'{}'::jsonb": false, "array['a', 'b']::text[]": false,
		"'a' COLLATE \"C\"": false,
		"random()":          true, "gen_random_uuid()": true, "clock_timestamp()": true, "uuid()": true,
		"my_func()": true, "now(1)": true, "lower('A')": true, "nextval('s')": true, "other.now()": true,
		"array[random()]": true, "1 + random()": true,
	} {
		rep, err := Check([]File{{Name: "m.sql", SQL: "SET lock_timeout = '1s'; ALTER TABLE t ADD COLUMN c text DEFAULT " + def}})
		if err != nil {
			t.Fatalf("%s: %v", def, err)
		}
		if got := len(rep.Findings) == 1 && rep.Findings[0].Rule == AddingFieldWithDefault; got != volatile || len(rep.Findings) > 1 {
			t.Errorf("DEFAULT %s: findings %+v, want volatile=%v", def, rep.Findings, volatile)
		}
	}
}

func TestRuleCatalogue(t *testing.T) {
	all := Rules()
	if len(all) != 19 {
		t.Errorf("%d rules", len(all))
	}
	for _, r := range all {
		if r.What == "" || r.Explanation == "" || r.Rewrite == "" {
			t.Errorf("%s lacks words", r.ID)
		}
		if (r.Severity == Warning) != (r.Class == DataDependent) {
			t.Errorf("%s: severity %s for class %s", r.ID, r.Severity, r.Class)
		}
	}
}

func TestLinesAndColumns(t *testing.T) {
	ln := newLines("ab\nçé x\n\nz")
	for _, c := range []struct{ off, line, col int }{
		{0, 1, 1}, {2, 1, 3}, {3, 2, 1}, {7, 2, 3}, {8, 2, 4}, {9, 2, 5}, {10, 3, 1}, {11, 4, 1}, {12, 4, 2}, {99, 4, 2},
	} {
		if l, col := ln.at(c.off); l != c.line || col != c.col {
			t.Errorf("at(%d) = %d:%d, want %d:%d", c.off, l, col, c.line, c.col)
		}
	}
	if got := ln.byteOffset(6); got != 7 { // the sixth character is the blank after two 2-byte ones
		t.Errorf("byteOffset(6) = %d, want 7", got)
	}
}

// Data-dependent statements alone give expand_only: they are warnings.
func TestDataDependentOnlyIsExpandOnly(t *testing.T) {
	rep, err := Check([]File{{Name: "m.sql", SQL: "DELETE FROM sessions;"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.MigrationType != spec.ExpandOnly || rep.Classes[DataDependent] != 1 || len(rep.Statements) != 1 {
		t.Errorf("report %+v", rep)
	}
}

func TestLockTimeoutSettings(t *testing.T) {
	for prefix, armed := range map[string]bool{
		"SET lock_timeout = '1s';":                              true,
		"BEGIN; SET LOCAL lock_timeout TO 500;":                 true,
		"SET LOCAL lock_timeout TO 500;":                        false, // no effect outside a transaction
		"BEGIN; SET LOCAL lock_timeout = 500; COMMIT;":          false,
		"BEGIN; SET lock_timeout = '2s'; COMMIT;":               true, // a session SET outlives the transaction
		"SET lock_timeout = 0;":                                 false,
		"SET lock_timeout = '0';":                               false,
		"SET lock_timeout = '1s'; RESET lock_timeout;":          false,
		"SET lock_timeout = '1s'; RESET ALL;":                   false,
		"SET lock_timeout = '1s'; SET lock_timeout TO DEFAULT;": false,
		"SET statement_timeout = '1s';":                         false,
		"SET app.lock_timeout = '1s';":                          false,
		"":                                                      false,
	} {
		rep, err := Check([]File{{Name: "m.sql", SQL: prefix + "\nALTER TABLE t ADD COLUMN c int;"}})
		if err != nil {
			t.Fatalf("%q: %v", prefix, err)
		}
		flagged := len(rep.Findings) == 1 && rep.Findings[0].Rule == RequireLockTimeout
		if flagged == armed || len(rep.Findings) > 1 {
			t.Errorf("%q: findings %+v, want lock_timeout armed=%v", prefix, rep.Findings, armed)
		}
	}
}
