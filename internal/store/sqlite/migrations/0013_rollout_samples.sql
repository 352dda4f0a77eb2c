-- Per-version measurements of a rollout over time (requests, errors and the
-- p95 latency of each interval), recorded by the judge, charted by the
-- dashboard; at most store.MaxSamples per rollout.
CREATE TABLE rollout_samples (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	rollout_id INTEGER NOT NULL REFERENCES rollouts (id),
	at TEXT NOT NULL,
	version TEXT NOT NULL,
	requests INTEGER NOT NULL CHECK (requests >= 0),
	errors INTEGER NOT NULL CHECK (errors >= 0),
	p95 REAL
);
CREATE INDEX rollout_samples_rollout ON rollout_samples (rollout_id, id);
