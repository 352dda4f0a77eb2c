-- Event sinks' outbox: the events table is the queue, and each sink keeps
-- its place in it (every event up to after_id is delivered, skipped or
-- given up) and a row per event it tried to deliver, so that a restarted
-- server resumes each sink where it stopped, with its attempts counted.
CREATE TABLE sink_cursors (
	sink TEXT PRIMARY KEY,
	after_id INTEGER NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE TABLE sink_deliveries (
	sink TEXT NOT NULL,
	event_id INTEGER NOT NULL REFERENCES events (id),
	state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
	attempts INTEGER NOT NULL,
	first_try TEXT NOT NULL,
	next_try TEXT,
	last_error TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (sink, event_id)
);
CREATE INDEX sink_deliveries_state ON sink_deliveries (sink, state, event_id);
