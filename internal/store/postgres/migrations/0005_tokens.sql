-- API tokens. Only a token's SHA-256 is kept, never its secret. Environments
-- is a JSON array of names ([]: every environment); a JSON array rather than
-- a joined list, so that no name needs escaping. NULL expires_at: never
-- expires; NULL revoked_at: not revoked.
CREATE TABLE tokens (
	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name TEXT NOT NULL,
	role TEXT NOT NULL,
	environments JSON NOT NULL,
	hash BYTEA NOT NULL CHECK (octet_length(hash) = 32),
	created_by TEXT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	expires_at TIMESTAMPTZ,
	revoked_at TIMESTAMPTZ,
	revoked_by TEXT NOT NULL,
	CHECK ((revoked_at IS NULL) = (revoked_by = ''))
);
-- A request's token is found by its hash, and a hash names one token forever.
CREATE UNIQUE INDEX tokens_hash ON tokens (hash);
-- A name is unique among live tokens; a revoked token's name may be reused.
CREATE UNIQUE INDEX tokens_live_name ON tokens (name) WHERE revoked_at IS NULL;
-- TokenByName: the newest token with a name, revoked or not.
CREATE INDEX tokens_name ON tokens (name, id);
