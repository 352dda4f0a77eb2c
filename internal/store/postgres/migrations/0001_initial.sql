-- belay's first schema: the last validated project, artifacts, releases,
-- rollouts with their transitions, stable versions, events and audit entries.
-- Times are TIMESTAMPTZ; JSON is json (not jsonb: it keeps the text as written).

CREATE TABLE projects (
	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name TEXT NOT NULL,
	spec_digest TEXT NOT NULL,
	validated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE project_services (
	project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	position INTEGER NOT NULL,
	name TEXT NOT NULL,
	PRIMARY KEY (project_id, position),
	UNIQUE (project_id, name)
);

CREATE TABLE project_environments (
	project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
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
	built_at TIMESTAMPTZ NOT NULL,
	signer_key_id TEXT NOT NULL,
	dirty BOOLEAN NOT NULL,
	store_ref TEXT NOT NULL
);
CREATE INDEX artifacts_service ON artifacts (service, built_at);
CREATE INDEX artifacts_digest ON artifacts (digest);

CREATE TABLE releases (
	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	service TEXT NOT NULL,
	version TEXT NOT NULL,
	owner TEXT NOT NULL,
	plan JSON,
	created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE rollouts (
	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	release_id BIGINT NOT NULL REFERENCES releases (id),
	service TEXT NOT NULL,
	environment TEXT NOT NULL,
	version TEXT NOT NULL,
	phase TEXT NOT NULL,
	state JSON,
	terminal BOOLEAN NOT NULL,
	seq BIGINT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);
-- At most one active rollout per service and environment.
CREATE UNIQUE INDEX rollouts_active ON rollouts (service, environment) WHERE NOT terminal;
CREATE INDEX rollouts_history ON rollouts (service, environment, id);

CREATE TABLE transitions (
	rollout_id BIGINT NOT NULL REFERENCES rollouts (id),
	seq BIGINT NOT NULL,
	from_phase TEXT NOT NULL,
	to_phase TEXT NOT NULL,
	at TIMESTAMPTZ NOT NULL,
	reason TEXT NOT NULL,
	evidence JSON,
	PRIMARY KEY (rollout_id, seq)
);

CREATE TABLE stable_versions (
	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	service TEXT NOT NULL,
	environment TEXT NOT NULL,
	version TEXT NOT NULL,
	digest TEXT NOT NULL,
	at TIMESTAMPTZ NOT NULL,
	rollout_id BIGINT REFERENCES rollouts (id)
);
CREATE INDEX stable_versions_env ON stable_versions (service, environment, id);

CREATE TABLE events (
	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at TIMESTAMPTZ NOT NULL,
	data JSON NOT NULL
);

CREATE TABLE audit_entries (
	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at TIMESTAMPTZ NOT NULL,
	actor TEXT NOT NULL,
	action TEXT NOT NULL,
	subject TEXT NOT NULL,
	reason TEXT NOT NULL,
	detail JSON
);
