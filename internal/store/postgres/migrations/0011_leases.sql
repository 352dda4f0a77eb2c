-- Leases: a named claim one process holds until it expires, so that of
-- several servers on one database exactly one delivers each event sink.
CREATE TABLE leases (
	name TEXT PRIMARY KEY,
	holder TEXT NOT NULL,
	epoch BIGINT NOT NULL,
	acquired_at TIMESTAMPTZ NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL
);
