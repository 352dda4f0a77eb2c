-- belay's first schema: the last validated project, artifacts, releases,
-- rollouts with their transitions, stable versions, events and audit entries.
-- Times are UTC text in sqlstore.SQLiteTime form; JSON is text.

CREATE TABLE projects (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	name TEXT NOT NULL,
	spec_digest TEXT NOT NULL,
	validated_at TEXT NOT NULL
);

CREATE TABLE project_services (
	project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	position INTEGER NOT NULL,
	name TEXT NOT NULL,
	PRIMARY KEY (project_id, position),
	UNIQUE (project_id, name)
);

CREATE TABLE project_environments (
	project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	position INTEGER NOT NULL,
	name TEXT NOT NULL,
	PRIMARY KEY (project_id, position),
	UNIQUE (project_id, name)
);

CREATE TABLE artifacts (
	version TEXT PRIMARY KEY,
	digest TEXT NOT NULL,
	service TEXT NOT NULL,
	commit_sha TEXT NOT NULL,
	built_at TEXT NOT NULL,
	signer_key_id TEXT NOT NULL,
	dirty INTEGER NOT NULL CHECK (dirty IN (0, 1)),
	store_ref TEXT NOT NULL
);
CREATE INDEX artifacts_service ON artifacts (service, built_at);
CREATE INDEX artifacts_digest ON artifacts (digest);

CREATE TABLE releases (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	service TEXT NOT NULL,
	version TEXT NOT NULL,
	owner TEXT NOT NULL,
	plan TEXT,
	created_at TEXT NOT NULL
);

CREATE TABLE rollouts (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	release_id INTEGER NOT NULL REFERENCES releases (id),
	service TEXT NOT NULL,
	environment TEXT NOT NULL,
	version TEXT NOT NULL,
	phase TEXT NOT NULL,
	state TEXT,
	terminal INTEGER NOT NULL CHECK (terminal IN (0, 1)),
	seq INTEGER NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
-- At most one active rollout per service and environment.
CREATE UNIQUE INDEX rollouts_active ON rollouts (service, environment) WHERE terminal = 0;
CREATE INDEX rollouts_history ON rollouts (service, environment, id);

CREATE TABLE transitions (
	rollout_id INTEGER NOT NULL REFERENCES rollouts (id),
	seq INTEGER NOT NULL,
	from_phase TEXT NOT NULL,
	to_phase TEXT NOT NULL,
	at TEXT NOT NULL,
	reason TEXT NOT NULL,
	evidence TEXT,
	PRIMARY KEY (rollout_id, seq)
);

CREATE TABLE stable_versions (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	service TEXT NOT NULL,
	environment TEXT NOT NULL,
	version TEXT NOT NULL,
	digest TEXT NOT NULL,
	at TEXT NOT NULL,
	rollout_id INTEGER REFERENCES rollouts (id)
);
CREATE INDEX stable_versions_env ON stable_versions (service, environment, id);

CREATE TABLE events (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	at TEXT NOT NULL,
	data TEXT NOT NULL
);

CREATE TABLE audit_entries (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	at TEXT NOT NULL,
	actor TEXT NOT NULL,
	action TEXT NOT NULL,
	subject TEXT NOT NULL,
	reason TEXT NOT NULL,
	detail TEXT
);
