-- Each service's request and error increases per minute and environment,
-- which the builtin SLO source sums into windows (internal/slo). Bounded:
-- one row per minute, pruned beyond the longest SLO window.
CREATE TABLE slo_samples (
	environment TEXT NOT NULL,
	service TEXT NOT NULL,
	bucket INTEGER NOT NULL, -- Unix seconds of the minute's start
	requests INTEGER NOT NULL CHECK (requests >= 0),
	errors INTEGER NOT NULL CHECK (errors >= 0),
	PRIMARY KEY (environment, service, bucket)
);
CREATE INDEX slo_samples_bucket ON slo_samples (bucket);
