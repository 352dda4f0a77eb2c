-- Leases: a named claim one process holds until it expires, so that of
-- several servers on one database exactly one delivers each event sink.
CREATE TABLE leases (
	name TEXT PRIMARY KEY,
	holder TEXT NOT NULL,
	epoch INTEGER NOT NULL,
	acquired_at TEXT NOT NULL,
	expires_at TEXT NOT NULL
);
