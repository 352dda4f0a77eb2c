// Package postgres is the infrastructure provider for PostgreSQL: roles
// (an owner role without login, an application role with a connection
// limit) and databases (owner, connection limit, extensions, and the
// least-privilege grants of the application role). It connects with an
// administrator's URL (an environment secret) and, for what lives inside a
// database (extensions, schema grants), to that database on the same server.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/belay-dev/belay/internal/infra/provider"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Kinds.
const (
	// KindRole: fields login ("true"/"false") and connection_limit ("-1":
	// none).
	KindRole = "postgres_role"
	// KindDatabase: fields owner (a role), connection_limit, extensions
	// (sorted, comma-separated; plpgsql is PostgreSQL's own and not
	// listed) and app_role: the role given CONNECT, USAGE on schema public
	// and SELECT/INSERT/UPDATE/DELETE on its tables (present and future,
	// as created by the owner) and USAGE/SELECT on its sequences — and
	// nothing else; PUBLIC loses its default rights on the database and on
	// creating in public.
	KindDatabase = "postgres_database"
)

// Provider manages roles and databases on one server.
type Provider struct {
	admin string // the administrator's URL
	mu    sync.Mutex
	conns map[string]*pgx.Conn // by database ("" = the admin URL's)
}

var _ provider.Provider = (*Provider)(nil)

// New returns a provider connecting with adminURL (postgres://…); it
// connects on first use.
func New(adminURL string) (*Provider, error) {
	if _, err := pgx.ParseConfig(adminURL); err != nil {
		return nil, fmt.Errorf("postgres: the administrator URL does not parse (check the secret that holds it): %v", redactErr(err))
	}
	return &Provider{admin: adminURL, conns: map[string]*pgx.Conn{}}, nil
}

// redactErr keeps a parse error's message from echoing the URL's password.
func redactErr(err error) string {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return "invalid connection string"
	}
	return err.Error()
}

// Kinds are role and database.
func (p *Provider) Kinds() []string { return []string{KindRole, KindDatabase} }

// Close closes its connections.
func (p *Provider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for k, c := range p.conns {
		errs = append(errs, c.Close(context.Background()))
		delete(p.conns, k)
	}
	return errors.Join(errs...)
}

// conn is a connection to db ("" = the admin URL's database).
func (p *Provider) conn(ctx context.Context, db string) (*pgx.Conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.conns[db]; ok && !c.IsClosed() {
		return c, nil
	}
	cfg, err := pgx.ParseConfig(p.admin)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s", redactErr(err))
	}
	if db != "" {
		cfg.Database = db
	}
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect to %s on %s: %w", cfg.Database, hostOf(p.admin), err)
	}
	p.conns[db] = c
	return c, nil
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return "the server"
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

// Observe reads r; it never changes anything.
func (p *Provider) Observe(ctx context.Context, r provider.Resource) (provider.Observation, error) {
	c, err := p.conn(ctx, "")
	if err != nil {
		return provider.Observation{}, err
	}
	switch r.Kind {
	case KindRole:
		var login bool
		var limit int
		err := c.QueryRow(ctx, `SELECT rolcanlogin, rolconnlimit FROM pg_roles WHERE rolname = $1`, r.Name).Scan(&login, &limit)
		if errors.Is(err, pgx.ErrNoRows) {
			return provider.Observation{}, nil
		}
		if err != nil {
			return provider.Observation{}, fmt.Errorf("postgres: observe role %s: %w", r.Name, err)
		}
		return provider.Observation{Exists: true, Fields: provider.Fields{
			"login": strconv.FormatBool(login), "connection_limit": strconv.Itoa(limit)}}, nil
	case KindDatabase:
		return p.observeDatabase(ctx, c, r)
	}
	return provider.Observation{}, fmt.Errorf("postgres: unknown kind %q", r.Kind)
}

func (p *Provider) observeDatabase(ctx context.Context, c *pgx.Conn, r provider.Resource) (provider.Observation, error) {
	var owner string
	var limit int
	err := c.QueryRow(ctx, `SELECT pg_get_userbyid(datdba), datconnlimit FROM pg_database WHERE datname = $1`, r.Name).Scan(&owner, &limit)
	if errors.Is(err, pgx.ErrNoRows) {
		return provider.Observation{}, nil
	}
	if err != nil {
		return provider.Observation{}, fmt.Errorf("postgres: observe database %s: %w", r.Name, err)
	}
	f := provider.Fields{"owner": owner, "connection_limit": strconv.Itoa(limit)}
	dc, err := p.conn(ctx, r.Name)
	if err != nil {
		return provider.Observation{}, err
	}
	rows, err := dc.Query(ctx, `SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY extname`)
	if err != nil {
		return provider.Observation{}, fmt.Errorf("postgres: extensions of %s: %w", r.Name, err)
	}
	exts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return provider.Observation{}, fmt.Errorf("postgres: extensions of %s: %w", r.Name, err)
	}
	f["extensions"] = strings.Join(exts, ",")
	if app := r.Spec["app_role"]; app != "" {
		ok, err := appGrants(ctx, dc, r.Name, owner, app)
		if err != nil {
			return provider.Observation{}, err
		}
		if ok {
			f["app_role"] = app
		} else {
			f["app_role"] = "(" + app + " lacks its grants)"
		}
	}
	return provider.Observation{Exists: true, Fields: f}, nil
}

// appGrants reports whether app has its grants in db: CONNECT, USAGE on
// public, and the owner's default privileges on tables and sequences.
func appGrants(ctx context.Context, dc *pgx.Conn, db, owner, app string) (bool, error) {
	var exists bool
	if err := dc.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, app).Scan(&exists); err != nil || !exists {
		return false, err
	}
	var connect, usage bool
	var defaults int
	err := dc.QueryRow(ctx, `SELECT has_database_privilege($1, $2, 'CONNECT'), has_schema_privilege($1, 'public', 'USAGE'),
		(SELECT count(*) FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace, aclexplode(d.defaclacl) a
		 WHERE n.nspname = 'public' AND d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = $3)
		   AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1)
		   AND ((d.defaclobjtype = 'r' AND a.privilege_type IN ('SELECT','INSERT','UPDATE','DELETE'))
		     OR (d.defaclobjtype = 'S' AND a.privilege_type IN ('USAGE','SELECT'))))`, app, db, owner).Scan(&connect, &usage, &defaults)
	if err != nil {
		return false, fmt.Errorf("postgres: grants of %s in %s: %w", app, db, err)
	}
	return connect && usage && defaults == 6, nil
}

// Create makes r (or, when it exists, updates it).
func (p *Provider) Create(ctx context.Context, r provider.Resource) error {
	obs, err := p.Observe(ctx, r)
	if err != nil {
		return err
	}
	if obs.Exists {
		return p.Update(ctx, r)
	}
	c, err := p.conn(ctx, "")
	if err != nil {
		return err
	}
	switch r.Kind {
	case KindRole:
		login, limit, err := roleSpec(r)
		if err != nil {
			return err
		}
		_, err = c.Exec(ctx, fmt.Sprintf("CREATE ROLE %s %s CONNECTION LIMIT %d", ident(r.Name), loginWord(login), limit))
		if err != nil && !isCode(err, "42710") { // duplicate_object: created meanwhile
			return fmt.Errorf("postgres: create role %s: %w", r.Name, err)
		}
		return p.Update(ctx, r)
	case KindDatabase:
		limit, err := limitOf(r, "connection_limit")
		if err != nil {
			return err
		}
		_, err = c.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s OWNER %s CONNECTION LIMIT %d", ident(r.Name), ident(r.Spec["owner"]), limit))
		if err != nil && !isCode(err, "42P04") { // duplicate_database
			return fmt.Errorf("postgres: create database %s: %w", r.Name, err)
		}
		return p.Update(ctx, r)
	}
	return fmt.Errorf("postgres: unknown kind %q", r.Kind)
}

func loginWord(login bool) string {
	if login {
		return "LOGIN"
	}
	return "NOLOGIN"
}

func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

func roleSpec(r provider.Resource) (bool, int, error) {
	login, err := strconv.ParseBool(r.Spec["login"])
	if err != nil {
		return false, 0, fmt.Errorf("postgres: role %s: login %q is not true or false", r.Name, r.Spec["login"])
	}
	limit, err := limitOf(r, "connection_limit")
	return login, limit, err
}

func limitOf(r provider.Resource, field string) (int, error) {
	v := r.Spec[field]
	n, err := strconv.Atoi(v)
	if err != nil || n < -1 {
		return 0, fmt.Errorf("postgres: %s %s: %s %q is not a whole number of connections (-1 for no limit)", r.Kind, r.Name, field, v)
	}
	return n, nil
}

// Update makes an existing r match its spec.
func (p *Provider) Update(ctx context.Context, r provider.Resource) error {
	c, err := p.conn(ctx, "")
	if err != nil {
		return err
	}
	switch r.Kind {
	case KindRole:
		login, limit, err := roleSpec(r)
		if err != nil {
			return err
		}
		if _, err := c.Exec(ctx, fmt.Sprintf("ALTER ROLE %s %s CONNECTION LIMIT %d", ident(r.Name), loginWord(login), limit)); err != nil {
			return fmt.Errorf("postgres: update role %s: %w", r.Name, err)
		}
		return nil
	case KindDatabase:
		return p.updateDatabase(ctx, c, r)
	}
	return fmt.Errorf("postgres: unknown kind %q", r.Kind)
}

func (p *Provider) updateDatabase(ctx context.Context, c *pgx.Conn, r provider.Resource) error {
	limit, err := limitOf(r, "connection_limit")
	if err != nil {
		return err
	}
	db, owner := ident(r.Name), ident(r.Spec["owner"])
	for _, q := range []string{
		fmt.Sprintf("ALTER DATABASE %s OWNER TO %s", db, owner),
		fmt.Sprintf("ALTER DATABASE %s CONNECTION LIMIT %d", db, limit),
		fmt.Sprintf("REVOKE ALL ON DATABASE %s FROM PUBLIC", db),
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			return fmt.Errorf("postgres: update database %s: %w", r.Name, err)
		}
	}
	dc, err := p.conn(ctx, r.Name)
	if err != nil {
		return err
	}
	want := splitList(r.Spec["extensions"])
	rows, err := dc.Query(ctx, `SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'`)
	if err != nil {
		return fmt.Errorf("postgres: extensions of %s: %w", r.Name, err)
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("postgres: extensions of %s: %w", r.Name, err)
	}
	var qs []string
	for _, e := range want {
		qs = append(qs, "CREATE EXTENSION IF NOT EXISTS "+ident(e))
	}
	for _, e := range have {
		if !slices.Contains(want, e) {
			qs = append(qs, "DROP EXTENSION IF EXISTS "+ident(e))
		}
	}
	qs = append(qs, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
	if app := r.Spec["app_role"]; app != "" {
		a := ident(app)
		qs = append(qs,
			fmt.Sprintf("GRANT CONNECT ON DATABASE %s TO %s", db, a),
			fmt.Sprintf("GRANT USAGE ON SCHEMA public TO %s", a),
			fmt.Sprintf("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %s", a),
			fmt.Sprintf("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %s", a),
			fmt.Sprintf("ALTER DEFAULT PRIVILEGES FOR ROLE %s IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %s", owner, a),
			fmt.Sprintf("ALTER DEFAULT PRIVILEGES FOR ROLE %s IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO %s", owner, a),
		)
	}
	for _, q := range qs {
		if _, err := dc.Exec(ctx, q); err != nil {
			return fmt.Errorf("postgres: update database %s: %s: %w", r.Name, q, err)
		}
	}
	return nil
}

// splitList is a comma-separated list, sorted, without blanks.
func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// NormalList is s as Observe reports a list: sorted, comma-separated.
func NormalList(s string) string { return strings.Join(splitList(s), ",") }

// Delete drops r; a missing r is not an error.
func (p *Provider) Delete(ctx context.Context, r provider.Resource) error {
	c, err := p.conn(ctx, "")
	if err != nil {
		return err
	}
	var q string
	switch r.Kind {
	case KindRole:
		q = "DROP ROLE IF EXISTS " + ident(r.Name)
	case KindDatabase:
		p.mu.Lock()
		if dc, ok := p.conns[r.Name]; ok {
			_ = dc.Close(ctx)
			delete(p.conns, r.Name)
		}
		p.mu.Unlock()
		q = "DROP DATABASE IF EXISTS " + ident(r.Name) + " WITH (FORCE)"
	default:
		return fmt.Errorf("postgres: unknown kind %q", r.Kind)
	}
	if _, err := c.Exec(ctx, q); err != nil {
		return fmt.Errorf("postgres: delete %s %s: %w", r.Kind, r.Name, err)
	}
	return nil
}
