package tofu

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMixedPlan(t *testing.T) {
	p, err := Load("testdata/mixed.json")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Change{}
	var order []string
	for _, c := range p.Changes {
		got[c.Address] = c
		order = append(order, c.Address)
	}
	want := map[string]struct {
		action, order string
		destructive   bool
	}{
		"aws_s3_bucket.assets":             {Create, "", false},
		"postgresql_role.app":              {Update, "", false},
		"postgresql_database.api":          {Replace, "delete_before_create", true},
		"redis_acl_user.api":               {Replace, "create_before_destroy", true},
		"module.queue.nats_stream.orders":  {Delete, "", true},
		"postgresql_extension.pgcrypto":    {NoOp, "", false},
		"data.aws_caller_identity.current": {Read, "", false},
	}
	if len(got) != len(want) {
		t.Fatalf("changes: %v", order)
	}
	for addr, w := range want {
		c := got[addr]
		if c.Action != w.action || c.Order != w.order || c.Destructive != w.destructive {
			t.Errorf("%s: action %s order %q destructive %v, want %+v", addr, c.Action, c.Order, c.Destructive, w)
		}
	}
	if order[0] != "aws_s3_bucket.assets" || order[len(order)-1] != "redis_acl_user.api" {
		t.Errorf("not in address order: %v", order)
	}
	if !p.Destructive || p.Counts[Replace] != 2 || p.Counts[Delete] != 1 || p.Counts[Create] != 1 {
		t.Errorf("destructive %v counts %v", p.Destructive, p.Counts)
	}
	if r := got["postgresql_database.api"].Reason; r != "replace_because_cannot_update" {
		t.Errorf("reason %q", r)
	}
	// Field diffs: the changed limit shown, the password masked, the
	// unchanged name left out.
	role := got["postgresql_role.app"].Fields
	if len(role) != 2 || role[0] != (Field{"connection_limit", "500", "20"}) || role[1] != (Field{"password", Sensitive, Sensitive}) {
		t.Errorf("role fields: %+v", role)
	}
	db := got["postgresql_database.api"].Fields
	if len(db) != 2 || db[0] != (Field{"id", None, Unknown}) || db[1].Name != "lc_collate" || db[1].After != `"en_US.UTF-8"` {
		t.Errorf("database fields: %+v", db)
	}
	bucket := got["aws_s3_bucket.assets"].Fields
	if len(bucket) != 5 || bucket[4] != (Field{"tags", None, `{"env":"production"}`}) || bucket[0] != (Field{"arn", None, Unknown}) {
		t.Errorf("bucket fields: %+v", bucket)
	}
	if len(p.Drift) != 1 || p.Drift[0].Address != "postgresql_role.app" || p.Drift[0].Fields[0] != (Field{"connection_limit", "20", "500"}) {
		t.Errorf("drift: %+v", p.Drift)
	}
	var out bytes.Buffer
	p.PrintText(&out)
	for _, line := range []string{
		"tofu plan testdata/mixed.json (" + p.Hash + "): 1 create, 1 update, 2 replace, 1 delete, 1 read, 1 no-op",
		"DESTRUCTIVE: the plan deletes or replaces resources",
		"  replace (delete before create), replace_because_cannot_update postgresql_database.api  [destructive]",
		`      lc_collate: "C" → "en_US.UTF-8"`,
		"  delete   module.queue.nats_stream.orders  [destructive]",
		"      password: (sensitive) → (sensitive)",
		"drift (changed outside tofu since the last apply):",
	} {
		if !strings.Contains(out.String(), line+"\n") {
			t.Errorf("text lacks %q:\n%s", line, out.String())
		}
	}
	if strings.Contains(out.String(), "pgcrypto") || strings.Contains(out.String(), "example-a") {
		t.Errorf("no-op listed or a sensitive value shown:\n%s", out.String())
	}
}

func TestNoChanges(t *testing.T) {
	p, err := Load("testdata/nochange.json")
	if err != nil {
		t.Fatal(err)
	}
	if p.Destructive || p.Counts[NoOp] != 1 || len(p.Changes[0].Fields) != 0 {
		t.Fatalf("%+v", p)
	}
}

// The hash ignores formatting, key order and the timestamp, and changes
// with any change to what the plan does.
func TestHashStable(t *testing.T) {
	data, err := os.ReadFile("testdata/mixed.json")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Parse("a", data)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a.Hash, "sha256:") || len(a.Hash) != len("sha256:")+64 {
		t.Fatalf("hash %q", a.Hash)
	}
	// The same plan re-encoded: keys sorted, no spacing, another timestamp.
	var v map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	v["timestamp"] = "2027-01-01T00:00:00Z"
	compact, _ := json.Marshal(v)
	b, err := Parse("b", compact)
	if err != nil {
		t.Fatal(err)
	}
	if a.Hash != b.Hash {
		t.Errorf("same plan, other hash: %s %s", a.Hash, b.Hash)
	}
	changed := bytes.Replace(data, []byte(`"connection_limit": 20, "login": true, "password"`), []byte(`"connection_limit": 21, "login": true, "password"`), 1)
	if bytes.Equal(changed, data) {
		t.Fatal("fixture changed: the edit found nothing")
	}
	c, err := Parse("c", changed)
	if err != nil {
		t.Fatal(err)
	}
	if c.Hash == a.Hash {
		t.Error("a changed plan hashes the same")
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "holds no plan.json or tfplan.json: write one with tofu plan -out=tfplan") {
		t.Errorf("empty dir: %v", err)
	}
	data, _ := os.ReadFile("testdata/nochange.json")
	if err := os.WriteFile(filepath.Join(dir, "tfplan.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(dir)
	if err != nil || p.Source != filepath.Join(dir, "tfplan.json") {
		t.Errorf("dir: %v %+v", err, p)
	}
}

func TestMalformed(t *testing.T) {
	for file, want := range map[string]string{
		"testdata/truncated.json":      "testdata/truncated.json: line 6, column 72: invalid JSON: invalid character ',' looking for beginning of object key string",
		"testdata/no-actions.json":     `testdata/no-actions.json: resource_changes[0] (postgresql_role.app) has no change.actions: expected e.g. ["update"] or ["delete","create"]`,
		"testdata/future-format.json":  `testdata/future-format.json: not a plan belay can read: unsupported plan format version: "2.0.0" does not satisfy`,
		"testdata/does-not-exist.json": "read tofu plan: stat testdata/does-not-exist.json: no such file or directory",
	} {
		_, err := Load(file)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s:\n got %v\nwant %s", file, err, want)
		}
	}
	for name, data := range map[string]string{
		"empty":  "",
		"binary": "PK\x03\x04tfplan",
		"yaml":   "format_version: 1.2",
		"bad":    `{"format_version": "1.2", "resource_changes": [{"address": "x.y", "change": {"actions": ["explode"]}}]}`,
		"type":   `{"format_version": "1.2", "resource_changes": {"address": "x.y"}}`,
		"nulled": `{"format_version": "1.2", "resource_changes": [null]}`,
	} {
		_, err := Parse(name, []byte(data))
		if err == nil {
			t.Errorf("%s accepted", name)
			continue
		}
		t.Logf("%s: %v", name, err)
	}
}
