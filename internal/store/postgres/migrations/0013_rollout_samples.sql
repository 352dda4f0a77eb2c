-- Per-version measurements of a rollout over time (requests, errors and the
-- p95 latency of each interval), recorded by the judge, charted by the
-- dashboard; at most store.MaxSamples per rollout.
CREATE TABLE rollout_samples (
	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	rollout_id BIGINT NOT NULL REFERENCES rollouts (id),
	at TIMESTAMPTZ NOT NULL,
	version TEXT NOT NULL,
	requests BIGINT NOT NULL CHECK (requests >= 0),
	errors BIGINT NOT NULL CHECK (errors >= 0),
	p95 DOUBLE PRECISION
);
CREATE INDEX rollout_samples_rollout ON rollout_samples (rollout_id, id);
