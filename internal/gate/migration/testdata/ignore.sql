-- migration_type: expand_only
-- Findings named by a belay:ignore comment right before the statement are kept, marked ignored, and count for nothing.
-- belay:ignore require-lock-timeout the migration role sets lock_timeout
ALTER TABLE customers ADD COLUMN bio text; -- want require-lock-timeout(ignored)

/* belay:ignore changing-column-type,ban-drop-column varchar to text rewrites nothing */
ALTER TABLE customers ALTER COLUMN bio TYPE text, DROP COLUMN bio_old; -- want changing-column-type(ignored) ban-drop-column(ignored)
