-- Infrastructure (belay plan / apply / drift): per environment, each
-- resource of its service stack with the spec belay wants, the spec it last
-- applied and that spec's hash, what it last observed, whether a create is
-- pending (written before the provider's Create, so that an interrupted
-- apply is detectable), the protect flag and the management policy
-- (manage, or observe for an imported resource belay never changes).
CREATE TABLE infra_resources (
	environment TEXT NOT NULL,
	kind TEXT NOT NULL,
	name TEXT NOT NULL,
	desired TEXT,
	applied TEXT,
	applied_hash TEXT NOT NULL DEFAULT '',
	observed TEXT,
	observed_at TIMESTAMPTZ,
	create_pending BOOLEAN NOT NULL DEFAULT FALSE,
	protect BOOLEAN NOT NULL DEFAULT FALSE,
	policy TEXT NOT NULL,
	drift_hash TEXT NOT NULL DEFAULT '',
	updated_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (environment, kind, name)
);
-- Plans: what belay plan showed, with its hash; apply takes only an
-- approved plan whose hash the environment still produces.
CREATE TABLE infra_plans (
	id BIGSERIAL PRIMARY KEY,
	environment TEXT NOT NULL,
	hash TEXT NOT NULL,
	body TEXT NOT NULL,
	state TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	approved_by TEXT NOT NULL DEFAULT '',
	approved_at TIMESTAMPTZ,
	applied_at TIMESTAMPTZ
);
