package sqlstore

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadMigrations(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0002_second.sql": {Data: []byte("B")},
		"m/0001_first.sql":  {Data: []byte("A")},
		"m/README.md":       {Data: []byte("ignored")},
	}
	ms, err := LoadMigrations(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0] != (Migration{1, "first", "A"}) || ms[1] != (Migration{2, "second", "B"}) {
		t.Errorf("LoadMigrations = %+v", ms)
	}
}

func TestLoadMigrationsRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		fs   fstest.MapFS
		want string
	}{
		"gap":      {fstest.MapFS{"m/0001_a.sql": {}, "m/0003_c.sql": {}}, "expected version 2, found 3"},
		"no start": {fstest.MapFS{"m/0002_b.sql": {}}, "expected version 1, found 2"},
		"twice":    {fstest.MapFS{"m/0001_a.sql": {}, "m/1_b.sql": {}}, "expected version 2, found 1"},
		"unnamed":  {fstest.MapFS{"m/first.sql": {}}, "must start with its number"},
		"no dir":   {fstest.MapFS{}, "migrations"},
	} {
		_, err := LoadMigrations(tc.fs, "m")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", name, err, tc.want)
		}
	}
}
