package secret

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	dir := t.TempDir()
	return &Store{Keys: Keyring{Dir: filepath.Join(dir, "home", "secrets")}, ProjectFile: filepath.Join(dir, "belay.yaml"), Redactor: &Redactor{}}
}

func TestChangeEncryptsForTheEnvironmentsKey(t *testing.T) {
	s := newStore(t)
	const v = "postgres://app:hunter2hunter2@db/app"
	if err := s.Change("production", func(set Set) error { set["DATABASE_URL"] = v; return nil }, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(s.Path("production"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "-----BEGIN AGE ENCRYPTED FILE-----") || strings.Contains(string(b), "hunter2") {
		t.Fatalf("secrets file is not armored ciphertext:\n%s", b)
	}
	key, err := os.Stat(filepath.Join(s.Keys.Dir, "production.key"))
	if err != nil || key.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v, %v; want mode 0600", key, err)
	}
	got, err := s.Values("production", []string{"DATABASE_URL"})
	if err != nil || got["DATABASE_URL"] != v {
		t.Fatalf("Values = %v, %v", got, err)
	}
	_, err = s.Values("production", []string{"DATABASE_URL", "API_KEY"})
	var missing *MissingError
	if !errors.As(err, &missing) || !strings.Contains(err.Error(), "API_KEY are not set in production: set each with `belay secrets set NAME --env production`") {
		t.Errorf("missing secret: %v", err)
	}
	// Another environment's key cannot open it.
	other := &Store{Keys: s.Keys, ProjectFile: s.ProjectFile, Redactor: &Redactor{}}
	if _, err := other.Keys.Ensure("staging"); err != nil {
		t.Fatal(err)
	}
	id, _, _ := other.Keys.Identity("staging")
	if _, err := Load(s.Path("production"), id); err == nil || !strings.Contains(err.Error(), "was encrypted for another key than this server's (age1") {
		t.Errorf("wrong key: %v", err)
	}
}

func TestLoadRefusesWhatIsNotASecretsFile(t *testing.T) {
	s := newStore(t)
	id, err := s.Keys.Ensure("staging")
	if err != nil {
		t.Fatal(err)
	}
	path := s.Path("staging")
	if set, err := Load(path, id); err != nil || len(set) != 0 {
		t.Fatalf("missing file: %v, %v; want an empty set", set, err)
	}
	os.MkdirAll(filepath.Dir(path), 0o755)
	for name, content := range map[string]string{
		"plaintext": "DATABASE_URL=postgres://x\n",
		"truncated": "-----BEGIN AGE ENCRYPTED FILE-----\nYWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSB4\n-----END AGE ENCRYPTED FILE-----\n",
		"empty":     "",
	} {
		os.WriteFile(path, []byte(content), 0o644)
		if _, err := Load(path, id); err == nil || !strings.Contains(err.Error(), "restore it from version control") {
			t.Errorf("%s: %v; want an error saying to restore the file", name, err)
		}
	}
	// A flipped byte in a real file is caught by age's authentication.
	os.Remove(path)
	if err := Save(path, Set{"API_KEY": "abcdefgh12345678"}, id.Recipient()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	lines := strings.Split(string(b), "\n")
	mid := []byte(lines[len(lines)/2])
	mid[3] ^= 'A' ^ 'B'
	lines[len(lines)/2] = string(mid)
	os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644)
	if _, err := Load(path, id); err == nil {
		t.Error("a corrupted secrets file decrypted")
	}
}

func TestChangeThatCannotBeRecordedIsUndone(t *testing.T) {
	s := newStore(t)
	set := func(v string) func(Set) error { return func(s Set) error { s["API_KEY"] = v; return nil } }
	if err := s.Change("staging", set("first-value-1"), func() error { return errors.New("audit down") }); err == nil {
		t.Fatal("a change that could not be recorded succeeded")
	}
	if _, err := os.Stat(s.Path("staging")); !os.IsNotExist(err) {
		t.Fatalf("the file of an unrecorded first change is left: %v", err)
	}
	if err := s.Change("staging", set("first-value-1"), func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(s.Path("staging"))
	if err := s.Change("staging", set("second-value-2"), func() error { return errors.New("audit down") }); err == nil {
		t.Fatal("a change that could not be recorded succeeded")
	}
	after, _ := os.ReadFile(s.Path("staging"))
	if string(before) != string(after) {
		t.Error("an unrecorded change left the file changed")
	}
	if v, _ := s.Values("staging", []string{"API_KEY"}); v["API_KEY"] != "first-value-1" {
		t.Errorf("API_KEY = %q", v["API_KEY"])
	}
}

func TestRedactor(t *testing.T) {
	var r Redactor
	r.Add("SHORT", "abc") // never kept as a secret, never redacted
	r.Add("TOKEN", `s3cr"et\value`)
	r.Add("URL", "postgres://u:s3cr\"et\\value@db")
	for in, want := range map[string]string{
		`token s3cr"et\value here`:             "token [redacted TOKEN] here",
		`{"msg":"s3cr\"et\\value"}`:            `{"msg":"[redacted TOKEN]"}`,
		"dial postgres://u:s3cr\"et\\value@db": "dial [redacted URL]",
		"abc stays":                            "abc stays",
		// as a dashboard page shows it (html/template escapes quotes and '+')
		`<td>s3cr&#34;et\value</td>`: "<td>[redacted TOKEN]</td>",
	} {
		if got := r.String(in); got != want {
			t.Errorf("String(%q) = %q; want %q", in, got, want)
		}
	}
	err := r.Error(errors.Join(os.ErrNotExist, errors.New(`open s3cr"et\value`)))
	if strings.Contains(err.Error(), "s3cr") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Error: %v (Is ErrNotExist %v)", err, errors.Is(err, os.ErrNotExist))
	}
	r.Add("PLUS", "a+b<c>&d'e")
	var page strings.Builder
	if err := htmlForm.Execute(&page, "x a+b<c>&d'e y"); err != nil || r.String(page.String()) != "x [redacted PLUS] y" {
		t.Errorf("the HTML form of a value is not redacted: %q → %q", page.String(), r.String(page.String()))
	}
	var none *Redactor
	if none.String("x") != "x" {
		t.Error("nil redactor changed text")
	}
}

func TestCheckNameAndValue(t *testing.T) {
	for _, bad := range []string{"lower", "1ABC", "A-B", "PORT", "BELAY_TOKEN", ""} {
		if CheckName(bad) == nil {
			t.Errorf("CheckName(%q) passed", bad)
		}
	}
	if err := CheckName("DATABASE_URL"); err != nil {
		t.Error(err)
	}
	if err := CheckValue("X", "short"); err == nil || !strings.Contains(err.Error(), "at least 8") {
		t.Errorf("short value: %v", err)
	}
	if err := CheckValue("X", "long enough\x00"); err == nil {
		t.Error("NUL passed")
	}
}
