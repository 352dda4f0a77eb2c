-- The commit time of an artifact's commit, for lead time (commit → production):
-- NULL for artifacts recorded before it was kept.
ALTER TABLE artifacts ADD COLUMN committed_at TEXT;
