-- The release queue of busy environments, versions rejected by a rollback,
-- and each rollout step's analysis state, so that a restarted server resumes
-- it. The last validated project, which nothing read, is dropped.

DROP TABLE project_services;
DROP TABLE project_environments;
DROP TABLE projects;

-- RolloutFilter.Release: a release's rollouts.
CREATE INDEX rollouts_release ON rollouts (release_id, id);

CREATE TABLE queue_entries (
	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	release_id BIGINT NOT NULL REFERENCES releases (id),
	service TEXT NOT NULL,
	environment TEXT NOT NULL,
	state TEXT NOT NULL CHECK (state IN ('waiting', 'started', 'cancelled', 'superseded')),
	reason TEXT NOT NULL,
	rollout_id BIGINT REFERENCES rollouts (id),
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL,
	CHECK ((state = 'started') = (rollout_id IS NOT NULL))
);
-- A release waits at most once for an environment.
CREATE UNIQUE INDEX queue_entries_waiting ON queue_entries (release_id, environment) WHERE state = 'waiting';
CREATE INDEX queue_entries_env ON queue_entries (service, environment, id) WHERE state = 'waiting';
CREATE INDEX queue_entries_release ON queue_entries (release_id, id);

CREATE TABLE rejections (
	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	service TEXT NOT NULL,
	version TEXT NOT NULL,
	environment TEXT NOT NULL,
	rollout_id BIGINT NOT NULL REFERENCES rollouts (id),
	reason TEXT NOT NULL,
	at TIMESTAMPTZ NOT NULL
);
CREATE INDEX rejections_version ON rejections (service, version, id);

CREATE TABLE analysis_states (
	rollout_id BIGINT NOT NULL REFERENCES rollouts (id),
	step INTEGER NOT NULL CHECK (step >= 0),
	state JSON NOT NULL,
	saved_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (rollout_id, step)
);
