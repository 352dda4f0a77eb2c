// Package backup takes, lists, prunes and restores the dumps of the
// databases belay provisions: pg_dump -Fc of one database, written
// atomically beside a manifest (database, time, size, sha256), pruned by a
// retention policy, verified before pg_restore puts it into a new database.
package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/common/model"

	"github.com/belay-dev/belay/internal/atomicfile"
)

// Errors callers map to answers.
var (
	ErrNotFound = errors.New("backup not found")
	ErrCorrupt  = errors.New("backup corrupt")
	ErrInvalid  = errors.New("backup")
)

// Manifest describes one dump, stored as ID.json beside ID.dump.
type Manifest struct {
	ID          string    `json:"id"`
	Service     string    `json:"service"`
	Environment string    `json:"environment"`
	Database    string    `json:"database"`
	Time        time.Time `json:"time"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	// Path is the dump's file (not stored: where it was found).
	Path string `json:"path,omitempty"`
}

// Retention keeps the Keep newest dumps (0: no count limit) and drops
// those older than MaxAge (0: no age limit); the newest dump is always kept.
type Retention struct {
	Keep   int
	MaxAge time.Duration
}

// ParseRetention reads "7", "30d" or "7,30d".
func ParseRetention(s string) (Retention, error) {
	var r Retention
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if n, err := strconv.Atoi(part); err == nil && n > 0 && r.Keep == 0 {
			r.Keep = n
			continue
		}
		if d, err := model.ParseDuration(part); err == nil && d > 0 && r.MaxAge == 0 {
			r.MaxAge = time.Duration(d)
			continue
		}
		return Retention{}, fmt.Errorf("%w: retention %q: write a count of dumps to keep (7), a maximum age (30d) or both (7,30d)", ErrInvalid, s)
	}
	return r, nil
}

// String is r as ParseRetention reads it.
func (r Retention) String() string {
	var parts []string
	if r.Keep > 0 {
		parts = append(parts, strconv.Itoa(r.Keep))
	}
	if r.MaxAge > 0 {
		parts = append(parts, model.Duration(r.MaxAge).String())
	}
	return strings.Join(parts, ",")
}

// ParseSchedule reads how often a database is dumped: a duration of at
// least a minute (24h, 6h, 90m).
func ParseSchedule(s string) (time.Duration, error) {
	d, err := model.ParseDuration(s)
	if err != nil || time.Duration(d) < time.Minute {
		return 0, fmt.Errorf("%w: schedule %q: write how often to dump, a duration of at least 1m (24h, 6h, 1d)", ErrInvalid, s)
	}
	return time.Duration(d), nil
}

// Tool finds a PostgreSQL client program (pg_dump, pg_restore): on the
// PATH, else the newest /usr/lib/postgresql/*/bin, as the OS package puts it.
func Tool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(dirs) == 0 {
		return "", fmt.Errorf("%w: %s is not on the PATH nor in /usr/lib/postgresql/*/bin: install the OS package postgresql-client", ErrInvalid, name)
	}
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(a) - versionOf(b) })
	return dirs[len(dirs)-1], nil
}

func versionOf(p string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
	return n
}

// Dir is where an environment's dumps of a service go.
func Dir(root, env, service string) string { return filepath.Join(root, env, service) }

// Take dumps database of adminURL's server with pg_dump -Fc into
// root/env/service/ID.dump, atomically, then writes its manifest.
func Take(ctx context.Context, adminURL, root, env, service, database string, now time.Time) (Manifest, error) {
	pgDump, err := Tool("pg_dump")
	if err != nil {
		return Manifest{}, err
	}
	dir := Dir(root, env, service)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Manifest{}, fmt.Errorf("backup: %w", err)
	}
	url, err := databaseURL(adminURL, database)
	if err != nil {
		return Manifest{}, err
	}
	m := Manifest{ID: service + "-" + env + "-" + now.UTC().Format("20060102T150405.000Z"), Service: service, Environment: env,
		Database: database, Time: now.UTC()}
	m.ID = strings.ReplaceAll(m.ID, ".", "")
	path := filepath.Join(dir, m.ID+".dump")
	err = atomicfile.WriteFunc(path, 0o600, func(w io.Writer) error {
		h := sha256.New()
		cmd := exec.CommandContext(ctx, pgDump, "-Fc", "--dbname", url)
		var stderr strings.Builder
		cmd.Stdout, cmd.Stderr = io.MultiWriter(w, h, counter{&m.Size}), &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("pg_dump of %s: %v: %s", database, err, strings.TrimSpace(stderr.String()))
		}
		m.SHA256 = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	if err != nil {
		return Manifest{}, fmt.Errorf("backup: %w", err)
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := atomicfile.Write(filepath.Join(dir, m.ID+".json"), append(b, '\n'), 0o600); err != nil {
		_ = os.Remove(path)
		return Manifest{}, fmt.Errorf("backup: %w", err)
	}
	m.Path = path
	return m, nil
}

type counter struct{ n *int64 }

func (c counter) Write(p []byte) (int, error) { *c.n += int64(len(p)); return len(p), nil }

// databaseURL is adminURL pointed at database.
func databaseURL(adminURL, database string) (string, error) {
	if _, err := pgx.ParseConfig(adminURL); err != nil {
		return "", fmt.Errorf("%w: the database server's administrator URL does not parse (check its secret)", ErrInvalid)
	}
	if u, err := url.Parse(adminURL); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path, u.RawPath = "/"+database, ""
		return u.String(), nil
	}
	// key=value form: a later dbname wins; inside quotes libpq reads \\ and
	// \' as escapes, so a backslash is escaped before a quote is
	return adminURL + " dbname='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(database) + "'", nil
}

// List returns the dumps of service in env under root, newest first.
func List(root, env, service string) ([]Manifest, error) {
	dir := Dir(root, env, service)
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []Manifest
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		var m Manifest
		if err := json.Unmarshal(b, &m); err != nil || m.ID == "" {
			continue // not a manifest (the policy file)
		}
		m.Path = filepath.Join(dir, m.ID+".dump")
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Manifest) int { return b.Time.Compare(a.Time) })
	return out, nil
}

// Find returns backup id of service in env, or the newest when id is "".
func Find(root, env, service, id string) (Manifest, error) {
	ms, err := List(root, env, service)
	if err != nil {
		return Manifest{}, err
	}
	if len(ms) == 0 {
		return Manifest{}, fmt.Errorf("%w: %s in %s has no backups in %s (take one with belay backup --env %s --service %s)", ErrNotFound, service, env, Dir(root, env, service), env, service)
	}
	if id == "" {
		return ms[0], nil
	}
	for _, m := range ms {
		if m.ID == id {
			return m, nil
		}
	}
	return Manifest{}, fmt.Errorf("%w: %s in %s has no backup %q; the newest is %s (belay backups --env %s lists them)", ErrNotFound, service, env, id, ms[0].ID, env)
}

// Prune removes the dumps of service in env that r no longer keeps and
// returns them; the newest dump is always kept.
func Prune(root, env, service string, r Retention, now time.Time) ([]Manifest, error) {
	ms, err := List(root, env, service)
	if err != nil {
		return nil, err
	}
	var gone []Manifest
	for i, m := range ms {
		if i == 0 || (r.Keep == 0 || i < r.Keep) && (r.MaxAge == 0 || now.Sub(m.Time) <= r.MaxAge) {
			continue
		}
		for _, f := range []string{m.Path, strings.TrimSuffix(m.Path, ".dump") + ".json"} {
			if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return gone, fmt.Errorf("backup: prune: %w", err)
			}
		}
		gone = append(gone, m)
	}
	return gone, nil
}

// Verify checks m's dump against its manifest.
func Verify(m Manifest) error {
	f, err := os.Open(m.Path)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, m.Path, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, m.Path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != m.SHA256 || n != m.Size {
		return fmt.Errorf("%w: %s is %d bytes with sha256 %s, but its manifest says %d bytes, %s: it was changed or truncated after the backup; restore another (belay backups lists them)",
			ErrCorrupt, m.Path, n, got, m.Size, m.SHA256)
	}
	return nil
}

// RestoreName is the database a restore goes into by default.
func RestoreName(database string, now time.Time) string {
	return fitName(database, "_restore_"+now.UTC().Format("20060102t150405"))
}

// maxName is the bytes of a name PostgreSQL keeps; it cuts longer ones
// without a word.
const maxName = 63

// fitName is base+suffix in maxName bytes: a base too long for it is cut
// and followed by a hash of the whole base, so that the name belay reports
// is the one PostgreSQL keeps, and two long bases stay apart.
func fitName(base, suffix string) string {
	if len(base)+len(suffix) <= maxName {
		return base + suffix
	}
	h := sha256.Sum256([]byte(base))
	tag := "_" + hex.EncodeToString(h[:4])
	return base[:maxName-len(suffix)-len(tag)] + tag + suffix
}

// Restore verifies m and restores it with pg_restore into a new database
// into (owned by owner when set) on adminURL's server; into must not exist.
func Restore(ctx context.Context, adminURL string, m Manifest, into, owner string) error {
	if len(into) > 63 || into == "" {
		// PostgreSQL would cut the name at 63 bytes without a word, and pg_restore look for the whole one
		return fmt.Errorf("%w: database name %q has %d bytes; PostgreSQL keeps 1 to 63: name another with --into", ErrInvalid, into, len(into))
	}
	if err := Verify(m); err != nil {
		return err
	}
	pgRestore, err := Tool("pg_restore")
	if err != nil {
		return err
	}
	c, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("backup: connect to the database server: %w", err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	q := "CREATE DATABASE " + pgx.Identifier{into}.Sanitize()
	if owner != "" {
		q += " OWNER " + pgx.Identifier{owner}.Sanitize()
	}
	if _, err := c.Exec(ctx, q); err != nil {
		return fmt.Errorf("backup: create the database %s to restore into (restoring never overwrites a database; name another with --into): %w", into, err)
	}
	url, err := databaseURL(adminURL, into)
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, pgRestore, "--exit-on-error", "--dbname", url, m.Path)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		_, _ = c.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+pgx.Identifier{into}.Sanitize()+" WITH (FORCE)")
		return fmt.Errorf("backup: pg_restore of %s into %s failed, and the new database was dropped: %v: %s", m.ID, into, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// Replace swaps the restored database into the live one's name: live is
// renamed live_replaced_<time> (kept, not dropped) and restored takes its
// name. New connections to both are refused first, so that a client
// reconnecting at once cannot hold the rename up, then the open ones are
// ended; both accept connections again afterwards, renamed or not.
func Replace(ctx context.Context, adminURL, live, restored string, now time.Time) (old string, err error) {
	c, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("backup: connect to the database server: %w", err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	old = fitName(live, "_replaced_"+now.UTC().Format("20060102t150405"))
	allow := func(ctx context.Context, db string, yes bool) error {
		_, err := c.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{db}.Sanitize()+" ALLOW_CONNECTIONS "+strconv.FormatBool(yes))
		return err
	}
	var blocked []string
	defer func() {
		if err != nil {
			for _, db := range blocked {
				_ = allow(context.WithoutCancel(ctx), db, true)
			}
		}
	}()
	for _, db := range []string{live, restored} {
		if err := allow(ctx, db, false); err != nil {
			return "", fmt.Errorf("backup: refuse new connections to %s (nothing was renamed): %w", db, err)
		}
		blocked = append(blocked, db)
	}
	if _, err := c.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname IN ($1, $2) AND pid <> pg_backend_pid()`, live, restored); err != nil {
		return "", fmt.Errorf("backup: end the connections to %s and %s (nothing was renamed): %w", live, restored, err)
	}
	if err := rename(ctx, c, live, restored, old); err != nil {
		return "", err
	}
	blocked = nil
	for _, db := range []string{live, old} {
		if err := allow(ctx, db, true); err != nil {
			return old, fmt.Errorf("backup: %s replaced (the former kept as %s), but %s still refuses connections: %w; run ALTER DATABASE %s ALLOW_CONNECTIONS true",
				live, old, db, err, pgx.Identifier{db}.Sanitize())
		}
	}
	return old, nil
}

// rename, in one transaction, renames live to old and restored to live.
func rename(ctx context.Context, c *pgx.Conn, live, restored, old string) error {
	tx, err := c.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	for _, q := range []string{
		"ALTER DATABASE " + pgx.Identifier{live}.Sanitize() + " RENAME TO " + pgx.Identifier{old}.Sanitize(),
		"ALTER DATABASE " + pgx.Identifier{restored}.Sanitize() + " RENAME TO " + pgx.Identifier{live}.Sanitize(),
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("backup: replace %s with %s (nothing was renamed): %s: %w", live, restored, q, err)
		}
	}
	return tx.Commit(ctx)
}
