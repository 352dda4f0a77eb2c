-- Run-time overrides of feature flags, on top of belay.yaml: at most one per
-- environment and flag. state is '' (belay.yaml's), ENABLED or DISABLED;
-- variant is '' (belay.yaml's) or a pinned variant; one of them is set, or
-- there is no override. Which flags and variants exist is belay.yaml's, so
-- a row may outlive its flag: belay flags diff shows it.
CREATE TABLE flag_overrides (
	environment TEXT NOT NULL,
	flag TEXT NOT NULL,
	state TEXT NOT NULL CHECK (state IN ('', 'ENABLED', 'DISABLED')),
	variant TEXT NOT NULL,
	actor TEXT NOT NULL,
	reason TEXT NOT NULL,
	at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (environment, flag),
	CHECK (state <> '' OR variant <> '')
);
