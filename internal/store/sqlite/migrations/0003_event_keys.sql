-- An event that carries an ID (a rollout's events are sent again when the
-- server restarts before it recorded them sent) is stored once, by that ID.
ALTER TABLE events ADD COLUMN event_key TEXT;
CREATE UNIQUE INDEX events_event_key ON events (event_key);
